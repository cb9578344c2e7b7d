// Generation with the memory carried: over a prompt of several segments, every greedy token is
// the argmax of the teacher-forced logits on the same tokens; sampling is seeded, and a tiny
// nucleus is greedy; a prompt read in pieces, and a copy of it continued, match teacher forcing.
#include <gtest/gtest.h>

#include "eval/generate.h"
#include "test_support.h"

using namespace infini;

namespace {

Decoder tiny_model() {
  auto config = test::tiny_config(AttentionKind::Infini, 8);
  Decoder model(config);
  model->initialise(3);
  model->set_gates(0.5);
  return model;
}

std::vector<int64_t> prompt_of(int64_t length, int64_t vocab) {
  torch::manual_seed(21);
  auto ids = torch::randint(3, vocab, {length});
  return {ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length};
}

}  // namespace

TEST(Generate, GreedyEqualsTeacherForcedArgmaxAcrossSegments) {
  Decoder model = tiny_model();
  for (int64_t length : {28, 32}) {  // a partial last segment, and whole segments only
    auto prompt = prompt_of(length, model->config().vocab_size);
    GenerateOptions options;
    options.max_new_tokens = 20;  // crosses several segment boundaries of 8
    auto produced = generate(model, prompt, options);
    ASSERT_EQ(produced.size(), 20u);

    std::vector<int64_t> all = prompt;
    all.insert(all.end(), produced.begin(), produced.end());
    torch::NoGradGuard no_grad;
    ModelState state;
    auto logits = forward_sequence(model, torch::tensor(all).unsqueeze(0), 8, state)[0];
    for (size_t i = 0; i < produced.size(); ++i) {
      EXPECT_EQ(logits[static_cast<int64_t>(prompt.size() + i) - 1].argmax().item<int64_t>(), produced[i])
          << "token " << i << " of a " << length << "-token prompt";
    }
  }
}

TEST(Generate, ADecodingReadInPiecesAndItsCopyMatchTeacherForcing) {
  Decoder model = tiny_model();
  auto tokens = prompt_of(40, model->config().vocab_size);
  torch::NoGradGuard no_grad;
  ModelState state;
  auto logits = forward_sequence(model, torch::tensor(tokens).unsqueeze(0), 8, state)[0];
  auto expect_at = [&](const Decoding& d, int64_t i) {
    EXPECT_TRUE(torch::allclose(d.next_logits(), logits[i], 1e-5, 1e-5)) << "after token " << i;
  };
  Decoding decoding(model, /*carry_memory=*/true);
  decoding.read({tokens.begin(), tokens.begin() + 5});  // inside the first segment
  expect_at(decoding, 4);
  decoding.read({tokens.begin() + 5, tokens.begin() + 21});  // ends it, one whole, 5 into the third
  expect_at(decoding, 20);
  Decoding other = decoding;  // continued with another token: must not disturb the original
  other.push((tokens[21] + 1) % model->config().vocab_size);
  EXPECT_FALSE(torch::allclose(other.next_logits(), logits[21], 1e-3, 1e-3));
  for (int64_t i = 21; i < 40; ++i) {
    decoding.push(tokens[static_cast<size_t>(i)]);
    expect_at(decoding, i);
  }
}

TEST(Generate, SamplingIsSeededAndATinyNucleusIsGreedy) {
  Decoder model = tiny_model();
  auto prompt = prompt_of(12, model->config().vocab_size);
  GenerateOptions greedy;
  greedy.max_new_tokens = 12;
  GenerateOptions sampled = greedy;
  sampled.temperature = 1.5;
  sampled.seed = 4;
  auto a = generate(model, prompt, sampled), b = generate(model, prompt, sampled);
  EXPECT_EQ(a, b);
  sampled.seed = 5;
  EXPECT_NE(generate(model, prompt, sampled), a);  // 12 draws at temperature 1.5 from 300+ pieces
  sampled.top_p = 1e-9;
  EXPECT_EQ(generate(model, prompt, sampled), generate(model, prompt, greedy));
}

TEST(Generate, WithoutMemoryEqualsTeacherForcingWithTheMemoryResetPerSegment) {
  Decoder model = tiny_model();
  auto prompt = prompt_of(32, model->config().vocab_size);
  GenerateOptions options;
  options.max_new_tokens = 20;
  options.carry_memory = false;
  std::vector<int64_t> read;  // what a progress line hears: each whole segment of the prompt
  options.prompt_read = [&](int64_t tokens) { read.push_back(tokens); };
  auto produced = generate(model, prompt, options);
  EXPECT_EQ(read, (std::vector<int64_t>{8, 16, 24, 32}));
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), produced.begin(), produced.end());
  torch::NoGradGuard no_grad;
  ModelState state;
  std::vector<torch::Tensor> pieces;
  for_each_segment(model, torch::tensor(all).unsqueeze(0), 8, state, /*carry_memory=*/false,
                   [&](int64_t, const torch::Tensor& logits) { pieces.push_back(logits[0]); });
  auto logits = torch::cat(pieces, 0);
  for (size_t i = 0; i < produced.size(); ++i) {
    EXPECT_EQ(logits[static_cast<int64_t>(prompt.size() + i) - 1].argmax().item<int64_t>(), produced[i]) << i;
  }
  // The reset matters on this prompt: with the memory carried the logits differ.
  ModelState carried;
  auto with_memory = forward_sequence(model, torch::tensor(all).unsqueeze(0), 8, carried)[0];
  EXPECT_GT((with_memory - logits).abs().max().item<double>(), 1e-3);
}
