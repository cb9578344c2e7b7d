// Backpropagation through the memory across a sequence of segments: truncation cuts the gradient
// exactly where configured, document starts reset the memory per row, checkpointing changes
// nothing, and bf16 autocast keeps the memory in float32.
#include <gtest/gtest.h>

#include "core/autocast.h"
#include "test_support.h"
#include "train/bptt.h"
#include "train/segment_checkpoint.h"

using namespace infini;

namespace {

struct Fixture {
  ModelConfig config = test::tiny_config(AttentionKind::Infini, 6);
  Decoder model{nullptr};
  torch::Tensor inputs, targets, starts;

  explicit Fixture(int64_t segments = 4) {
    model = Decoder(config);
    model->initialise(4);
    model->set_gates(0.5);
    torch::manual_seed(7);
    inputs = torch::randint(config.vocab_size, {2, 6 * segments});
    targets = torch::randint(config.vocab_size, {2, 6 * segments});
    starts = torch::zeros({2, 6 * segments}, torch::kBool);
  }

  // A non-zero incoming memory state that is a leaf, so its gradient shows what reaches it.
  ModelState leaf_state() const {
    ModelState state;
    torch::manual_seed(11);
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
      const int64_t d = config.resolved_head_dim();
      AttentionState layer;
      layer.memory.matrix = (torch::rand({2, config.num_key_value_heads, d, d}) * 0.1).requires_grad_(true);
      layer.memory.normalizer = (torch::rand({2, config.num_key_value_heads, d}) + 1.0).requires_grad_(true);
      state.layers.push_back(layer);
    }
    return state;
  }
};

torch::Tensor gradient_of(const ModelState& leaf) { return leaf.layers[0].memory.matrix.grad(); }

}  // namespace

TEST(Bptt, TruncationCutsTheGradientExactlyEveryTSegments) {
  Fixture f;
  // With t = 2 the incoming memory reaches only segments 0 and 1: its gradient equals that of
  // the loss of the first two segments alone, untruncated.
  auto leaf = f.leaf_state();
  sequence_loss(f.model, f.inputs, f.targets, f.starts, leaf, {6, 2, false}).loss_sum.backward();
  auto truncated = gradient_of(leaf).clone();

  auto first_two = f.leaf_state();
  sequence_loss(f.model, f.inputs.slice(1, 0, 12), f.targets.slice(1, 0, 12), f.starts.slice(1, 0, 12), first_two,
                {6, 0, false})
      .loss_sum.backward();
  EXPECT_TRUE(torch::allclose(truncated, gradient_of(first_two), 1e-6, 1e-7));

  // Untruncated, later segments add to it: the cut is real, not a no-op.
  auto full = f.leaf_state();
  sequence_loss(f.model, f.inputs, f.targets, f.starts, full, {6, 0, false}).loss_sum.backward();
  EXPECT_GT((gradient_of(full) - truncated).abs().max().item<double>(), 1e-6);

  // And with t = 1 only segment 0 reaches it.
  auto one = f.leaf_state();
  sequence_loss(f.model, f.inputs, f.targets, f.starts, one, {6, 1, false}).loss_sum.backward();
  auto first = f.leaf_state();
  sequence_loss(f.model, f.inputs.slice(1, 0, 6), f.targets.slice(1, 0, 6), f.starts.slice(1, 0, 6), first,
                {6, 0, false})
      .loss_sum.backward();
  EXPECT_TRUE(torch::allclose(gradient_of(one), gradient_of(first), 1e-6, 1e-7));
}

TEST(Bptt, CheckpointedEqualsPlainWithTruncationAndResets) {
  Fixture f;
  f.starts[1][12] = true;  // row 1 starts a new document at segment 2
  std::vector<std::vector<torch::Tensor>> grads;
  std::vector<double> losses;
  for (bool checkpoint : {false, true}) {
    f.model->zero_grad();
    auto result = sequence_loss(f.model, f.inputs, f.targets, f.starts, ModelState{}, {6, 3, checkpoint});
    result.loss_sum.backward();
    losses.push_back(result.loss_sum.item<double>());
    grads.emplace_back();
    for (const auto& p : f.model->parameters()) grads.back().push_back(p.grad().clone());
  }
  EXPECT_NEAR(losses[0], losses[1], 1e-6 * losses[0]);
  for (size_t i = 0; i < grads[0].size(); ++i) {
    EXPECT_TRUE(torch::allclose(grads[0][i], grads[1][i], 1e-6, 1e-6)) << "parameter " << i;
  }
}

TEST(Bptt, SegmentsInOneCallEqualSegmentBySegmentInFloat64) {
  // Without checkpointing, sequence_loss hands the model all four segments in one call; the loss,
  // the final memory and every gradient are those of four calls carrying the state.
  Fixture f;
  f.model->to(torch::kFloat64);
  std::vector<torch::Tensor> values[2];
  for (int joined = 0; joined < 2; ++joined) {
    f.model->zero_grad();
    torch::Tensor loss;
    ModelState state;
    if (joined) {
      auto result = sequence_loss(f.model, f.inputs, f.targets, f.starts, ModelState{}, {6, 0, false});
      loss = result.loss_sum;
      state = result.state;
    } else {
      loss = torch::zeros({}, torch::kFloat64);
      for (int64_t s = 0; s < 4; ++s) {
        auto out = run_segment(f.model, f.inputs.slice(1, 6 * s, 6 * s + 6), f.targets.slice(1, 6 * s, 6 * s + 6), state);
        loss = loss + out.loss_sum;
        state = out.state;
      }
    }
    loss.backward();
    values[joined] = {loss.detach(), state.layers[1].memory.matrix.detach(), state.layers[1].memory.normalizer.detach()};
    for (const auto& p : f.model->parameters()) values[joined].push_back(p.grad().clone());
  }
  ASSERT_EQ(values[0].size(), values[1].size());
  for (size_t i = 0; i < values[0].size(); ++i) {
    EXPECT_LT(test::relative_difference(values[1][i], values[0][i]), 1e-12) << "value " << i;
  }
}

TEST(Bptt, ADocumentStartResetsOnlyItsRow) {
  Fixture f;
  f.starts[1][12] = true;
  torch::NoGradGuard no_grad;
  auto with_reset = sequence_loss(f.model, f.inputs, f.targets, f.starts, ModelState{}, {6, 0, false});
  auto no_reset = sequence_loss(f.model, f.inputs, f.targets, torch::zeros_like(f.starts), ModelState{}, {6, 0, false});
  // Row 0 is untouched; row 1 ends with the memory of segments 2-3 alone, as a fresh document.
  const auto& m = with_reset.state.layers[0].memory.matrix;
  EXPECT_TRUE(torch::equal(m[0], no_reset.state.layers[0].memory.matrix[0]));
  auto fresh = sequence_loss(f.model, f.inputs.slice(1, 12).slice(0, 1, 2), f.targets.slice(1, 12).slice(0, 1, 2),
                             f.starts.slice(1, 12).slice(0, 1, 2), ModelState{}, {6, 0, false});
  EXPECT_TRUE(torch::allclose(m[1], fresh.state.layers[0].memory.matrix[0], 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(m[1], no_reset.state.layers[0].memory.matrix[1], 1e-3, 1e-3));
}

TEST(Bptt, AWriteWeightAddsThatManyWritesOfTheSegment) {
  // Row 0 counts segment 0's write 3 times, row 1 everything once. Layer 0's keys and values
  // come from the embeddings alone, so with the linear rule its memory after both segments is
  // the incoming one + 3 × segment 0's write + segment 1's write, each as an unweighted pass
  // writes it.
  Fixture f(2);
  auto weights = torch::tensor({3.0F, 1.0F, 1.0F, 1.0F}).view({2, 2});
  torch::NoGradGuard no_grad;
  auto leaf = f.leaf_state();
  auto first = sequence_loss(f.model, f.inputs.slice(1, 0, 6), f.targets.slice(1, 0, 6), f.starts.slice(1, 0, 6), leaf,
                             {6, 0, false});
  auto once = sequence_loss(f.model, f.inputs, f.targets, f.starts, leaf, {6, 0, false});
  auto weighted = sequence_loss(f.model, f.inputs, f.targets, f.starts, leaf, {6, 0, false}, weights);
  auto layer0 = [](const SequenceLoss& r) { return r.state.layers[0].memory; };
  const auto& before = leaf.layers[0].memory;
  auto expected_m = before.matrix + 3.0 * (layer0(first).matrix - before.matrix) +
                    (layer0(once).matrix - layer0(first).matrix);
  auto expected_z = before.normalizer + 3.0 * (layer0(first).normalizer - before.normalizer) +
                    (layer0(once).normalizer - layer0(first).normalizer);
  EXPECT_TRUE(torch::allclose(layer0(weighted).matrix[0], expected_m[0], 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(layer0(weighted).normalizer[0], expected_z[0], 1e-5, 1e-6));
  EXPECT_GT((layer0(weighted).matrix[0] - layer0(once).matrix[0]).abs().max().item<double>(), 1e-3);
  // Row 1 is the unweighted pass in every layer; row 0's heavier memory changes what segment 1
  // reads, so its loss.
  for (int64_t l = 0; l < f.config.num_hidden_layers; ++l) {
    EXPECT_TRUE(torch::allclose(weighted.state.layers[l].memory.matrix[1], once.state.layers[l].memory.matrix[1],
                                1e-6, 1e-7));
  }
  EXPECT_GT(std::abs(weighted.loss_sum.item<double>() - once.loss_sum.item<double>()), 1e-4);
  // Checkpointed segments weigh the same.
  auto checkpointed = sequence_loss(f.model, f.inputs, f.targets, f.starts, leaf, {6, 0, true}, weights);
  EXPECT_NEAR(checkpointed.loss_sum.item<double>(), weighted.loss_sum.item<double>(), 1e-5);
  EXPECT_TRUE(torch::allclose(checkpointed.state.layers[1].memory.matrix, weighted.state.layers[1].memory.matrix,
                              1e-6, 1e-7));
}

TEST(Bptt, StartInsideASegmentIsRefused) {
  Fixture f;
  f.starts[0][7] = true;
  EXPECT_THROW(sequence_loss(f.model, f.inputs, f.targets, f.starts, ModelState{}, {6, 0, false}), c10::Error);
}

TEST(Bptt, Bf16AutocastKeepsFloat32MemoryAndAgreesWithFloat32) {
  Fixture f;
  double reference = 0.0;
  {
    torch::NoGradGuard no_grad;
    reference = sequence_loss(f.model, f.inputs, f.targets, f.starts, ModelState{}, {6, 0, false}).loss_sum.item<double>();
  }
  f.model->zero_grad();
  SequenceLoss mixed;
  {
    AutocastScope autocast(true, torch::kBFloat16);
    mixed = sequence_loss(f.model, f.inputs, f.targets, f.starts, ModelState{}, {6, 0, true});
  }
  mixed.loss_sum.backward();
  EXPECT_EQ(mixed.state.layers[0].memory.matrix.scalar_type(), torch::kFloat32);
  EXPECT_EQ(f.model->parameters()[0].scalar_type(), torch::kFloat32);   // master weights stay float32
  EXPECT_EQ(f.model->parameters()[0].grad().scalar_type(), torch::kFloat32);
  EXPECT_NEAR(mixed.loss_sum.item<double>(), reference, 0.02 * reference);
  EXPECT_NE(mixed.loss_sum.item<double>(), reference);  // bf16 really was used
  EXPECT_FALSE(AutocastScope::active());
}
