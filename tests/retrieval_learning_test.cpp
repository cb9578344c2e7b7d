// The memory learns to carry a key across a segment boundary: a short training run on a
// two-segment task, where the key lies in the first segment and the question in the second, so
// local attention alone cannot answer. Trained with the memory carried, the answer loss falls well
// below chance; trained and scored with the memory reset at every segment, it stays at chance, and
// so it does with the memory carried but its gradient cut at the boundary (truncated BPTT of one
// segment): the model learns to write only through backpropagation into the previous segment.
// The test fails if the memory's write, read or gradient path is broken.
#include <gtest/gtest.h>

#include <cmath>

#include "test_support.h"
#include "train/bptt.h"

using namespace infini;

namespace {

constexpr int64_t kSegment = 8, kLength = 2 * kSegment;
constexpr int64_t kMarker = 1, kQuestion = 2, kFirstDigit = 10, kDigits = 10, kFirstFiller = 20;
constexpr int64_t kIgnore = -100;

struct Batch {
  torch::Tensor inputs, targets;
};

// Segment 0: filler with "marker digit" at a random place; segment 1: filler, then the question,
// whose target is the digit. Every other target is ignored.
Batch make_batch(int64_t rows, torch::Generator& gen, int64_t vocab) {
  auto inputs = torch::randint(kFirstFiller, vocab, {rows, kLength}, gen, torch::kLong);
  auto digits = torch::randint(kFirstDigit, kFirstDigit + kDigits, {rows}, gen, torch::kLong);
  auto places = torch::randint(0, kSegment - 1, {rows}, gen, torch::kLong);
  auto targets = torch::full({rows, kLength}, kIgnore, torch::kLong);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = places[r].item<int64_t>();
    inputs[r][p] = kMarker;
    inputs[r][p + 1] = digits[r];
    inputs[r][kLength - 2] = kQuestion;
    inputs[r][kLength - 1] = digits[r];
    targets[r][kLength - 2] = digits[r];
  }
  return {inputs, targets};
}

enum class Memory { Carried, ResetEachSegment, GradientCut };

// Mean answer loss (nats) of `batch`.
torch::Tensor answer_loss(Decoder& model, const Batch& batch, Memory memory) {
  auto starts = torch::zeros_like(batch.inputs, torch::kBool);
  if (memory == Memory::ResetEachSegment) starts.index_put_({torch::indexing::Slice(), kSegment}, true);
  const int64_t bptt_segments = memory == Memory::GradientCut ? 1 : 0;
  auto result =
      sequence_loss(model, batch.inputs, batch.targets, starts, ModelState{}, {kSegment, bptt_segments, false});
  return result.loss_sum / batch.inputs.size(0);
}

// Trains a fresh tiny infini model for `steps` and returns its answer loss on held-out samples.
double trained_answer_loss(Memory memory, int64_t steps) {
  auto config = test::tiny_config(AttentionKind::Infini, kSegment);
  Decoder model(config);
  model->initialise(3);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  torch::Generator gen = at::detail::createCPUGenerator(5);
  for (int64_t step = 0; step < steps; ++step) {
    auto loss = answer_loss(model, make_batch(32, gen, config.vocab_size), memory);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  torch::NoGradGuard no_grad;
  torch::Generator held_out = at::detail::createCPUGenerator(99);
  return answer_loss(model, make_batch(2000, held_out, config.vocab_size), memory).item<double>();
}

}  // namespace

TEST(RetrievalLearning, AnswerLossFallsBelowChanceOnlyThroughTheMemory) {
  const double chance = std::log(static_cast<double>(kDigits));  // 2.303: a uniform guess among 10 digits
  const int64_t steps = 400;
  const double carried = trained_answer_loss(Memory::Carried, steps);
  const double reset = trained_answer_loss(Memory::ResetEachSegment, steps);
  const double cut = trained_answer_loss(Memory::GradientCut, steps);
  std::printf("answer loss after %lld steps: memory %.3f, reset %.3f, gradient cut %.3f, chance %.3f\n",
              static_cast<long long>(steps), carried, reset, cut, chance);
  EXPECT_LT(carried, 0.5 * chance);
  EXPECT_GT(reset, 0.95 * chance);
  EXPECT_GT(cut, 0.95 * chance);
}
