// Passkey training batches (data/passkey_loader.h): packed samples that need the memory and
// resume exactly, keyless samples, and the dilution's write weights.
#include <gtest/gtest.h>

#include <set>

#include "core/errors.h"
#include "data/passkey.h"
#include "data/passkey_loader.h"
#include "test_support.h"

using namespace infini;

TEST(PasskeyLoader, PackedSamplesNeedTheMemoryAndResumeExactly) {
  PasskeyLoaderOptions options;
  options.batch_size = 3;
  options.segment_length = 64;
  options.sequence_length = 64 * 40;
  options.seed = 7;
  PasskeyLoader loader(test::shared_tokenizer(), options);
  Tokenizer tokenizer(test::shared_tokenizer());
  const auto question = tokenizer.encode(PasskeyTask::kQuestion);
  auto first = loader.next();
  ASSERT_EQ(first.inputs.sizes(), (std::vector<int64_t>{3, 64 * 40}));
  // Samples start only on segment boundaries.
  EXPECT_FALSE(first.starts.view({3, 40, 64}).slice(2, 1).any().item<bool>());
  int64_t n = 0, predicted = 0;
  std::set<int64_t> distinct;
  for (int64_t row = 0; row < 3; ++row) {
    int64_t at = 0;
    while (at < 64 * 40) {
      ASSERT_TRUE(first.starts[row][at].item<bool>());
      int64_t end = at + 64;
      while (end < 64 * 40 && !first.starts[row][end].item<bool>()) end += 64;
      const int64_t segments = (end - at) / 64;
      EXPECT_GE(segments, loader.min_segments());
      distinct.insert(segments);
      const auto s = loader.sample(n, segments);
      ASSERT_EQ(static_cast<int64_t>(s.inputs.size()), end - at);
      EXPECT_TRUE(torch::equal(first.inputs[row].slice(0, at, end), torch::tensor(s.inputs, torch::kInt64)));
      EXPECT_TRUE(torch::equal(first.targets[row].slice(0, at, end), torch::tensor(s.targets, torch::kInt64)));
      // The question and the answer share the last segment; the key line sits a whole segment
      // before the question.
      const std::vector<int64_t> answer(s.inputs.begin() + s.answer_start,
                                        s.inputs.begin() + s.answer_start + static_cast<int64_t>(s.prompt.answer.size()));
      EXPECT_EQ(tokenizer.decode(answer), std::to_string(s.key));
      EXPECT_TRUE(test::contains_at(s.inputs, s.answer_start - static_cast<int64_t>(question.size()), question));
      EXPECT_EQ(s.prompt.question_position / 64, segments - 1);
      EXPECT_LE(s.answer_start + static_cast<int64_t>(answer.size()), segments * 64);
      EXPECT_LE((s.prompt.key_position + s.prompt.key_tokens - 1) / 64 + 2, s.prompt.question_position / 64);
      // Every token up to the answer's last is predicted; nothing after.
      for (int64_t i = 0; i < end - at; ++i) {
        const bool target = i < s.answer_start + static_cast<int64_t>(answer.size()) - 1;
        EXPECT_EQ(s.targets[static_cast<size_t>(i)] != kIgnoreTarget, target) << i;
      }
      predicted += s.answer_start + static_cast<int64_t>(answer.size()) - 1;
      at = end;
      ++n;
    }
  }
  EXPECT_EQ(first.tokens, predicted);
  EXPECT_GT(n, 3);                // several samples per row
  EXPECT_GE(distinct.size(), 3u);  // of several lengths
  EXPECT_EQ(loader.state().cursor, n);

  const auto saved = loader.state();
  auto second = loader.next();
  loader.restore(saved);
  EXPECT_TRUE(torch::equal(loader.next().inputs, second.inputs));

  // Answer-only loss: only the key's tokens are targets.
  options.targets = PasskeyTargets::Answer;
  PasskeyLoader answers(test::shared_tokenizer(), options);
  auto batch = answers.next();
  EXPECT_TRUE(torch::equal(batch.inputs, first.inputs));
  EXPECT_EQ(batch.tokens, n * static_cast<int64_t>(tokenizer.encode("12345").size()));

  // Key-line loss: the key line's tokens and the answer's, each predicted from the token before.
  options.targets = PasskeyTargets::KeyLine;
  PasskeyLoader lines(test::shared_tokenizer(), options);
  batch = lines.next();
  EXPECT_TRUE(torch::equal(batch.inputs, first.inputs));
  for (int64_t m = 0; m < 2; ++m) {
    const auto s = lines.sample(m, lines.min_segments() + m);
    const auto& p = s.prompt;
    const auto answer_end = s.answer_start + static_cast<int64_t>(s.prompt.answer.size());
    for (int64_t i = 0; i + 1 < static_cast<int64_t>(s.inputs.size()); ++i) {
      const bool in_line = i + 1 >= p.key_position && i + 1 < p.key_position + p.key_tokens;
      const bool in_answer = i + 1 >= s.answer_start && i + 1 < answer_end;
      const auto target = s.targets[static_cast<size_t>(i)];
      EXPECT_EQ(target, in_line || in_answer ? s.inputs[static_cast<size_t>(i + 1)] : kIgnoreTarget) << i;
    }
    EXPECT_EQ(tokenizer.decode(std::vector<int64_t>(s.inputs.begin() + p.key_position,
                                                    s.inputs.begin() + p.key_position + p.key_tokens)),
              PasskeyTask::key_line(s.key));
  }

  // Without packing (xl/full models), a row is one sample.
  options.pack = false;
  PasskeyLoader whole(test::shared_tokenizer(), options);
  batch = whole.next();
  EXPECT_EQ(batch.starts.sum().item<int64_t>(), 3);
  EXPECT_TRUE(torch::equal(batch.inputs[1], torch::tensor(whole.sample(1, 40).inputs, torch::kInt64)));

  // Two ranks split the job's samples: rank 1's first sample is the job's sample 1.
  options.pack = true;
  options.world_size = 2;
  options.rank = 1;
  PasskeyLoader rank1(test::shared_tokenizer(), options);
  int64_t k = std::min(rank1.drawn_segments(1), int64_t{40});
  if (40 - k < rank1.min_segments()) k = 40;
  const auto s1 = rank1.sample(1, k);
  EXPECT_TRUE(torch::equal(rank1.next().inputs[0].slice(0, 0, static_cast<int64_t>(s1.inputs.size())),
                           torch::tensor(s1.inputs, torch::kInt64)));

  options.sequence_length = 64 * (rank1.min_segments() - 1);
  EXPECT_THROW(PasskeyLoader(test::shared_tokenizer(), options), InputError);
  options.sequence_length = 100;
  EXPECT_THROW(PasskeyLoader(test::shared_tokenizer(), options), InputError);
}

TEST(PasskeyLoader, KeylessSamplesHoldOnlyFillerAndStillAskForAKey) {
  Tokenizer tokenizer(test::shared_tokenizer());
  PasskeyLoaderOptions options;
  options.segment_length = 64;
  options.sequence_length = 64 * 12;
  options.targets = PasskeyTargets::KeyLine;
  PasskeyLoader keyed(test::shared_tokenizer(), options);
  options.keyless_share = 0.3;
  PasskeyLoader mixed(test::shared_tokenizer(), options);
  const auto filler = tokenizer.encode("The grass is green.");
  int64_t keyless = 0;
  for (int64_t n = 0; n < 200; ++n) {
    const int64_t segments = mixed.min_segments() + n % 5;
    const auto s = mixed.sample(n, segments);
    const auto with_key = keyed.sample(n, segments);
    EXPECT_EQ(s.key, with_key.key);  // the draws before the keyless one are those of share 0
    EXPECT_EQ(s.inputs.size(), with_key.inputs.size());
    EXPECT_EQ(s.answer_start, with_key.answer_start);
    if (!s.keyless) {
      EXPECT_EQ(s.inputs, with_key.inputs);
      continue;
    }
    ++keyless;
    EXPECT_EQ(s.prompt.key_position, -1);
    const auto text = tokenizer.decode(std::vector<int64_t>(s.inputs.begin(), s.inputs.begin() + s.answer_start));
    EXPECT_EQ(text.find("Remember it"), std::string::npos);
    EXPECT_EQ(text.find(std::to_string(s.key)), std::string::npos) << text;
    // Filler in whole sentences where the key line was, then the question, then the key.
    EXPECT_NE(text.find("The sky is blue. The sun is yellow."), std::string::npos);
    EXPECT_EQ(tokenizer.decode(s.prompt.answer), std::to_string(s.key));
    // Only the answer is a target: there is no key line to learn.
    int64_t targets = 0;
    for (const auto t : s.targets) targets += t != kIgnoreTarget;
    EXPECT_EQ(targets, static_cast<int64_t>(s.prompt.answer.size()));
  }
  EXPECT_GT(keyless, 40);  // 30% of 200, give or take the draw
  EXPECT_LT(keyless, 80);
  options.keyless_share = 1.0;
  EXPECT_THROW(PasskeyLoader(test::shared_tokenizer(), options), InputError);
}

TEST(PasskeyLoader, DilutionWeighsFillerSegmentsAndChangesNoSample) {
  PasskeyLoaderOptions options;
  options.segment_length = 64;
  options.sequence_length = 64 * 12;
  options.keyless_share = 0.3;
  PasskeyLoader plain(test::shared_tokenizer(), options);
  options.dilution = 256.0;
  PasskeyLoader diluted(test::shared_tokenizer(), options);
  double smallest = 1e9, largest = 0.0;
  for (int64_t n = 0; n < 100; ++n) {
    const int64_t segments = diluted.min_segments() + n % 6;
    const auto s = diluted.sample(n, segments);
    EXPECT_EQ(s.inputs, plain.sample(n, segments).inputs);
    EXPECT_EQ(plain.sample(n, segments).write_weights, std::vector<float>(static_cast<size_t>(segments), 1.0F));
    ASSERT_EQ(s.write_weights.size(), static_cast<size_t>(segments));
    smallest = std::min(smallest, s.filler_weight);
    largest = std::max(largest, s.filler_weight);
    for (int64_t j = 0; j < segments; ++j) {
      // The key line's segments and the question's write once; the filler's w times.
      const int64_t first = j * 64, last = first + 63;
      const bool holds_key = !s.keyless && s.prompt.key_position <= last &&
                             s.prompt.key_position + s.prompt.key_tokens - 1 >= first;
      const bool once = holds_key || j == segments - 1;
      EXPECT_FLOAT_EQ(s.write_weights[static_cast<size_t>(j)], once ? 1.0F : static_cast<float>(s.filler_weight))
          << "sample " << n << " segment " << j;
    }
  }
  EXPECT_GE(smallest, 1.0);  // log-uniform over [1, 256]: both ends of the range occur
  EXPECT_LT(smallest, 2.0);
  EXPECT_LE(largest, 256.0);
  EXPECT_GT(largest, 128.0);
  // The batch carries them per segment of each row; without dilution it carries none.
  auto batch = diluted.next();
  ASSERT_TRUE(batch.write_weights.defined());
  EXPECT_EQ(batch.write_weights.sizes(), (std::vector<int64_t>{1, 12}));
  EXPECT_FALSE(plain.next().write_weights.defined());
  options.dilution = 0.5;
  EXPECT_THROW(PasskeyLoader(test::shared_tokenizer(), options), InputError);
}
