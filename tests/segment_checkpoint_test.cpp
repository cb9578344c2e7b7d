// Gradient checkpointing per segment gives the gradients of plain backpropagation through time.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "test_support.h"
#include "core/autocast.h"
#include "data/loader.h"
#include "train/segment_checkpoint.h"

using namespace infini;

namespace {

// Loss summed over k segments with the state carried, and every parameter's gradient.
std::pair<double, std::vector<torch::Tensor>> gradients(Decoder& model, const torch::Tensor& tokens,
                                                         const torch::Tensor& targets, int64_t segment,
                                                         bool checkpointed, double scale = 1.0) {
  model->zero_grad();
  ModelState state;
  CheckpointedSegments segments(model);
  torch::Tensor total = torch::zeros({});
  for (int64_t start = 0; start < tokens.size(1); start += segment) {
    auto x = tokens.slice(1, start, start + segment), y = targets.slice(1, start, start + segment);
    auto result = checkpointed ? segments.run(x, y, state) : run_segment(model, x, y, state);
    total = total + result.loss_sum;
    state = result.state;
  }
  (total * scale).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().clone());
  return {total.item<double>(), grads};
}

std::string difference(size_t i, const torch::Tensor& got, const torch::Tensor& want) {
  std::ostringstream out;
  out << "parameter " << i << " max difference " << (got - want).abs().max().item<double>() << " of "
      << want.abs().max().item<double>();
  return out.str();
}

}  // namespace

class SegmentCheckpoint : public ::testing::TestWithParam<std::pair<AttentionKind, MemoryUpdate>> {};

TEST_P(SegmentCheckpoint, GradientsEqualPlainBackward) {
  const auto [kind, rule] = GetParam();
  auto config = test::tiny_config(kind, 6);
  config.attention.memory_update = rule;
  Decoder model(config);
  model->initialise(9);
  model->set_gates(0.3);
  torch::manual_seed(2);
  auto tokens = torch::randint(config.vocab_size, {2, 24});
  auto targets = torch::randint(config.vocab_size, {2, 24});
  targets[1][5] = -100;  // ignored positions stay ignored
  auto [plain_loss, plain] = gradients(model, tokens, targets, 6, false);
  auto [checkpointed_loss, checkpointed] = gradients(model, tokens, targets, 6, true);
  EXPECT_NEAR(checkpointed_loss, plain_loss, 1e-6 * std::abs(plain_loss));
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_TRUE(torch::allclose(checkpointed[i], plain[i], 1e-6, 1e-6))
        << difference(i, checkpointed[i], plain[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, SegmentCheckpoint,
                         ::testing::Values(std::make_pair(AttentionKind::Infini, MemoryUpdate::Linear),
                                           std::make_pair(AttentionKind::Infini, MemoryUpdate::Delta),
                                           std::make_pair(AttentionKind::Xl, MemoryUpdate::Linear),
                                           std::make_pair(AttentionKind::Full, MemoryUpdate::Linear)));

TEST(SegmentCheckpointHead, TiedEmbeddingsAndAScaledLossGetThePlainGradients) {
  // The head's gradient is formed in forward and scaled in backward by the loss's gradient; with
  // tied embeddings its output weight is the embedding matrix, which the layers' backward also
  // reaches through the token lookup.
  auto config = test::tiny_config(AttentionKind::Infini, 6);
  config.tie_word_embeddings = true;
  Decoder model(config);
  model->initialise(3);
  model->set_gates(-0.4);
  model->to(torch::kFloat64);  // so only a change of the math, not of summation order, could show
  torch::manual_seed(8);
  auto tokens = torch::randint(config.vocab_size, {2, 18});
  auto targets = torch::randint(config.vocab_size, {2, 18});
  auto [plain_loss, plain] = gradients(model, tokens, targets, 6, false, 0.37);
  auto [checkpointed_loss, checkpointed] = gradients(model, tokens, targets, 6, true, 0.37);
  EXPECT_NEAR(checkpointed_loss, plain_loss, 1e-12 * std::abs(plain_loss));
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_TRUE(torch::allclose(checkpointed[i], plain[i], 1e-12, 1e-14))
        << difference(i, checkpointed[i], plain[i]);
  }
}

TEST(SegmentCheckpointHead, Bf16AutocastGetsThePlainGradients) {
  // Under autocast the head runs in bf16 in forward; the plain path and the checkpointed one cast
  // the same values, so only the order of float32 sums differs.
  auto config = test::tiny_config(AttentionKind::Infini, 6);
  config.attention.memory_update = MemoryUpdate::Delta;
  Decoder model(config);
  model->initialise(6);
  torch::manual_seed(11);
  auto tokens = torch::randint(config.vocab_size, {2, 18});
  auto targets = torch::randint(config.vocab_size, {2, 18});
  AutocastScope autocast(true, torch::kBFloat16);
  auto [plain_loss, plain] = gradients(model, tokens, targets, 6, false);
  auto [checkpointed_loss, checkpointed] = gradients(model, tokens, targets, 6, true);
  EXPECT_NEAR(checkpointed_loss, plain_loss, 1e-6 * std::abs(plain_loss));
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(checkpointed[i].scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::allclose(checkpointed[i], plain[i], 1e-4, 1e-6))
        << difference(i, checkpointed[i], plain[i]);
  }
}

TEST(SegmentCheckpointHead, SegmentLossesWithDifferentFactorsAreRefused) {
  // One summed head gradient serves every segment, so a loss weighing segments differently would
  // get a wrong one: refused instead.
  auto config = test::tiny_config(AttentionKind::Infini, 6);
  Decoder model(config);
  model->initialise(5);
  auto tokens = torch::randint(config.vocab_size, {1, 12});
  auto targets = torch::randint(config.vocab_size, {1, 12});
  CheckpointedSegments segments(model);
  auto first = segments.run(tokens.slice(1, 0, 6), targets.slice(1, 0, 6), ModelState{});
  auto second = segments.run(tokens.slice(1, 6, 12), targets.slice(1, 6, 12), first.state);
  EXPECT_THROW((first.loss_sum + 2.0 * second.loss_sum).backward(), c10::Error);
}

TEST(SegmentCheckpointMemory, GradientReachesEarlierSegmentsThroughMemory) {
  // The loss of the last segment alone must move the parameters' gradient via segment 0's
  // tokens' contribution to memory: changing segment 0 changes that gradient. (Segment 0's
  // targets are all ignored: its loss is zero, so the sum of both is the last segment's.)
  auto config = test::tiny_config(AttentionKind::Infini, 6);
  Decoder model(config);
  model->initialise(4);
  model->set_gates(1.0);
  auto last_segment_grad = [&](const torch::Tensor& tokens) {
    model->zero_grad();
    ModelState state;
    CheckpointedSegments segments(model);
    auto ignored = torch::full({1, 6}, kIgnoreTarget, torch::kInt64);
    auto targets = torch::full({1, 6}, 5, torch::kInt64);
    auto first = segments.run(tokens.slice(1, 0, 6), ignored, state);
    auto second = segments.run(tokens.slice(1, 6, 12), targets, first.state);
    EXPECT_EQ(first.loss_sum.item<double>(), 0.0);
    (first.loss_sum + second.loss_sum).backward();
    return model->model->layers[0]->self_attn->k_proj->weight.grad().clone();
  };
  auto tokens = torch::randint(64, {1, 12});
  auto changed = tokens.clone();
  changed[0][2] = (changed[0][2].item<int64_t>() + 1) % 64;
  auto a = last_segment_grad(tokens), b = last_segment_grad(changed);
  EXPECT_GT(a.abs().max().item<double>(), 0.0);
  EXPECT_FALSE(torch::allclose(a, b, 1e-7, 1e-7));
}
