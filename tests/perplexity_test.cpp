// document_nll reading a document as it scores it: the same sums as one pass over the whole
// document, while holding no more than a forward call's worth of tokens and the stream's piece.
#include <gtest/gtest.h>

#include "data/corpus.h"
#include "eval/perplexity.h"
#include "test_support.h"

using namespace infini;

namespace {

// The sum the old whole-document path computed: for_each_segment over all the tokens at once,
// each token's loss from float32 log-probabilities, summed in order in float64.
double whole_document_nll(Decoder& model, const std::vector<int64_t>& ids, int64_t segment, bool memory) {
  auto all = torch::tensor(ids, torch::kInt64);
  const int64_t predicted = all.size(0) - 1;
  double total = 0.0;
  ModelState state;
  for_each_segment(model, all.slice(0, 0, predicted).unsqueeze(0), segment, state, memory,
                   [&](int64_t start, const torch::Tensor& logits) {
                     auto log_probs = torch::log_softmax(logits[0].to(torch::kFloat32), -1);
                     auto targets = all.slice(0, start + 1, start + 1 + logits.size(1)).unsqueeze(1);
                     auto losses = log_probs.gather(1, targets).to(torch::kFloat64);
                     for (int64_t i = 0; i < losses.size(0); ++i) total -= losses[i][0].item<double>();
                   });
  return total;
}

}  // namespace

TEST(Perplexity, AStreamedDocumentScoresAsTheWholeDocumentInBoundedMemory) {
  auto config = test::tiny_config(AttentionKind::Infini, 5, /*heads=*/4, /*kv_heads=*/2);
  Decoder model(config);
  model->initialise(3);
  model->set_gates(0.6);
  model->to(torch::kFloat64);
  c10::InferenceMode inference;
  const int64_t call = model->segments_per_call(5) * 5;
  ASSERT_GT(call, 5);
  torch::manual_seed(2);
  // Lengths around the call boundaries: shorter than a call, exactly a call's inputs, a call and
  // a partial segment, several calls.
  for (const int64_t length : {int64_t{13}, call + 1, call + 8, 3 * call + 12}) {
    auto random = torch::randint(config.vocab_size, {length}, torch::kInt64);
    const std::vector<int64_t> ids(random.data_ptr<int64_t>(), random.data_ptr<int64_t>() + length);
    for (const bool memory : {true, false}) {
      PerplexityOptions options;
      options.memory = memory;
      options.bucket_width = 64;
      const size_t piece = 300;
      VectorTokens stream(ids, piece);
      std::vector<PositionBucket> buckets;
      int64_t most_held = 0;
      const auto nll = document_nll(model, stream, options, buckets, [&](int64_t done) {
        most_held = std::max(most_held, static_cast<int64_t>(stream.given()) - done);
      });
      const double expected = whole_document_nll(model, ids, 5, memory);
      EXPECT_NEAR(nll.nll, expected, 1e-12 * std::abs(expected)) << length << (memory ? " memory" : " reset");
      EXPECT_EQ(nll.tokens, length - 1);
      int64_t bucketed = 0;
      for (const auto& b : buckets) bucketed += b.tokens;
      EXPECT_EQ(bucketed, length - 1);
      // What was read but not yet scored: never more than a call and one piece.
      const int64_t per_call = memory ? call : 5;
      EXPECT_LE(most_held, per_call + static_cast<int64_t>(piece) + 1) << length;
    }
  }
}
