// The memory learns to carry a key across a segment boundary: a short training run on the
// two-segment recall task (data/recall_task.h), where the key lies in the first segment and the
// question in the second, so local attention alone cannot answer. Trained with the memory
// carried, the answer loss falls well below chance; trained and scored with the memory reset at
// every segment, it stays at chance, and so it does with the memory carried but its gradient cut
// at the boundary (truncated BPTT of one segment): the model learns to write only through
// backpropagation into the previous segment. The test fails if the memory's write, read or
// gradient path is broken. experiments/recall_study.cpp measures the same task at other sizes.
#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.h"
#include "data/recall_task.h"
#include "test_support.h"
#include "train/bptt.h"

using namespace infini;

namespace {

constexpr int64_t kSegment = 8;

enum class Memory { Carried, ResetEachSegment, GradientCut };

// Mean answer loss (nats) of `batch`.
torch::Tensor answer_loss(Decoder& model, const RecallBatch& batch, Memory memory) {
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
  const RecallTask task(config.vocab_size, kSegment, 1);
  Decoder model(config);
  model->initialise(3);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  torch::Generator gen = at::detail::createCPUGenerator(5);
  for (int64_t step = 0; step < steps; ++step) {
    auto loss = answer_loss(model, task.batch(32, 2, gen), memory);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  torch::NoGradGuard no_grad;
  torch::Generator held_out = at::detail::createCPUGenerator(99);
  return answer_loss(model, task.batch(2000, 2, held_out), memory).item<double>();
}

}  // namespace

TEST(RetrievalLearning, AnswerLossFallsBelowChanceOnlyThroughTheMemory) {
  const double chance = std::log(static_cast<double>(RecallTask::kDigits));  // 2.303: a uniform guess
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

TEST(RetrievalLearning, TheRecallTaskPutsTheKeyInTheFirstSegmentAndTheAnswerAtTheEnd) {
  const RecallTask task(64, 8, 3);
  torch::Generator gen = at::detail::createCPUGenerator(1);
  const auto batch = task.batch(50, 4, gen);
  ASSERT_EQ(batch.inputs.sizes(), (std::vector<int64_t>{50, 32}));
  for (int64_t r = 0; r < 50; ++r) {
    auto row = batch.inputs[r], targets = batch.targets[r];
    auto markers = (row == RecallTask::kMarker).nonzero().flatten();
    ASSERT_EQ(markers.numel(), 1);
    const int64_t m = markers[0].item<int64_t>();
    EXPECT_LE(m + 3, 7) << "the key lies in segment 0";
    EXPECT_EQ(row[28].item<int64_t>(), RecallTask::kQuestion);
    // The targets: the three digits, predicted at the question and the first two answer tokens.
    auto answer = (targets != -100).nonzero().flatten();
    ASSERT_EQ(answer.numel(), 3);
    for (int64_t j = 0; j < 3; ++j) {
      const int64_t digit = row[m + 1 + j].item<int64_t>();
      EXPECT_GE(digit, RecallTask::kFirstDigit);
      EXPECT_LT(digit, RecallTask::kFirstDigit + RecallTask::kDigits);
      EXPECT_EQ(answer[j].item<int64_t>(), 28 + j);
      EXPECT_EQ(targets[28 + j].item<int64_t>(), digit);
      EXPECT_EQ(row[29 + j].item<int64_t>(), digit);
    }
    // Filler elsewhere: nothing else below the filler ids.
    EXPECT_EQ((row < RecallTask::kFirstFiller).sum().item<int64_t>(), 2 + 2 * 3);
  }
  torch::Generator again = at::detail::createCPUGenerator(1);
  EXPECT_TRUE(torch::equal(task.batch(50, 4, again).inputs, batch.inputs)) << "the generator alone decides";
  EXPECT_THROW(task.batch(1, 1, again), InputError);
  EXPECT_THROW(RecallTask(64, 4, 4), InputError);
  EXPECT_THROW(RecallTask(20, 8, 1), InputError);
}
