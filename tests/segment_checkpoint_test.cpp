// Gradient checkpointing per segment gives the gradients of plain backpropagation through time.
#include <gtest/gtest.h>

#include "test_support.h"
#include "train/segment_checkpoint.h"

using namespace infini;

namespace {

// Loss summed over k segments with the state carried, and every parameter's gradient.
std::pair<double, std::vector<torch::Tensor>> gradients(Decoder& model, const torch::Tensor& tokens,
                                                         const torch::Tensor& targets, int64_t segment,
                                                         bool checkpointed) {
  model->zero_grad();
  ModelState state;
  torch::Tensor total = torch::zeros({});
  for (int64_t start = 0; start < tokens.size(1); start += segment) {
    auto x = tokens.slice(1, start, start + segment), y = targets.slice(1, start, start + segment);
    auto result = checkpointed ? run_segment_checkpointed(model, x, y, state) : run_segment(model, x, y, state);
    total = total + result.loss_sum;
    state = result.state;
  }
  total.backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().clone());
  return {total.item<double>(), grads};
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
        << "parameter " << i << " max difference " << (checkpointed[i] - plain[i]).abs().max().item<double>();
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, SegmentCheckpoint,
                         ::testing::Values(std::make_pair(AttentionKind::Infini, MemoryUpdate::Linear),
                                           std::make_pair(AttentionKind::Infini, MemoryUpdate::Delta),
                                           std::make_pair(AttentionKind::Xl, MemoryUpdate::Linear),
                                           std::make_pair(AttentionKind::Full, MemoryUpdate::Linear)));

TEST(SegmentCheckpointMemory, GradientReachesEarlierSegmentsThroughMemory) {
  // The loss of the last segment alone must move the parameters' gradient via segment 0's
  // tokens' contribution to memory: changing segment 0 changes that gradient.
  auto config = test::tiny_config(AttentionKind::Infini, 6);
  Decoder model(config);
  model->initialise(4);
  model->set_gates(1.0);
  auto last_segment_grad = [&](const torch::Tensor& tokens) {
    model->zero_grad();
    ModelState state;
    auto targets = torch::full({1, 6}, 5, torch::kInt64);
    auto first = run_segment_checkpointed(model, tokens.slice(1, 0, 6), targets, state);
    auto second = run_segment_checkpointed(model, tokens.slice(1, 6, 12), targets, first.state);
    second.loss_sum.backward();
    return model->model->layers[0]->self_attn->k_proj->weight.grad().clone();
  };
  auto tokens = torch::randint(64, {1, 12});
  auto changed = tokens.clone();
  changed[0][2] = (changed[0][2].item<int64_t>() + 1) % 64;
  auto a = last_segment_grad(tokens), b = last_segment_grad(changed);
  EXPECT_GT(a.abs().max().item<double>(), 0.0);
  EXPECT_FALSE(torch::allclose(a, b, 1e-7, 1e-7));
}
