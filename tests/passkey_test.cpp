// The passkey task: exact prompt lengths and key depths, the fine-tuning batches, and
// `infini eval passkey` through the binary.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/errors.h"
#include "data/passkey.h"
#include "data/passkey_loader.h"
#include "eval/passkey_eval.h"
#include "test_support.h"
#include "train/trainer.h"

using namespace infini;

namespace {

bool contains_at(const std::vector<int64_t>& haystack, int64_t at, const std::vector<int64_t>& needle) {
  if (at < 0 || at + static_cast<int64_t>(needle.size()) > static_cast<int64_t>(haystack.size())) return false;
  return std::equal(needle.begin(), needle.end(), haystack.begin() + at);
}

}  // namespace

// The filler between the intro and the question, less the key line and the pad tokens, is whole
// sentences in order; returns how many, or -1 when it is not.
int64_t whole_sentences(const Tokenizer& tokenizer, const PasskeyPrompt& prompt, int64_t from) {
  std::vector<std::vector<int64_t>> sentences;
  for (const char* s : {"The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."}) {
    sentences.push_back(tokenizer.encode(s));
  }
  std::vector<int64_t> filler;
  for (int64_t i = from; i < prompt.question_position - prompt.pad_tokens; ++i) {
    if (i >= prompt.key_position && i < prompt.key_position + prompt.key_tokens) continue;
    filler.push_back(prompt.tokens[static_cast<size_t>(i)]);
  }
  int64_t count = 0;
  for (size_t at = 0; at < filler.size(); ++count) {
    const auto& sentence = sentences[static_cast<size_t>(count) % sentences.size()];
    if (!contains_at(filler, static_cast<int64_t>(at), sentence)) return -1;
    at += sentence.size();
  }
  return count;
}

TEST(PasskeyTask, PromptHasTheExactLengthWholeSentencesAndTheKeyAtTheDepth) {
  Tokenizer tokenizer(test::shared_tokenizer());
  PasskeyTask task(tokenizer);
  const auto intro = tokenizer.encode(PasskeyTask::kIntro);
  const auto question = tokenizer.encode(PasskeyTask::kQuestion);
  const int64_t key = 31415;
  const auto line = tokenizer.encode(PasskeyTask::key_line(key));
  const int64_t head = 1 + static_cast<int64_t>(intro.size());
  const int64_t longest = static_cast<int64_t>(tokenizer.encode("There and back again.").size()) + 2;
  EXPECT_EQ(task.shortest_prompt(key), head + static_cast<int64_t>(line.size() + question.size()));
  // Filler lengths at which a sentence ends.
  std::set<int64_t> sentence_ends = {0};
  {
    const char* cycle[] = {"The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                           "There and back again."};
    int64_t at = 0;
    for (int i = 0; at < 5000; ++i) sentence_ends.insert(at += static_cast<int64_t>(tokenizer.encode(cycle[i % 5]).size()));
  }
  for (const int64_t segment : {int64_t{0}, int64_t{64}, int64_t{100}}) {
    const int64_t shortest = task.shortest_prompt(key, segment);
    for (const int64_t length : {shortest, shortest + 1, shortest + 7, int64_t{1000}, int64_t{4096}}) {
      int64_t previous_key = -1;
      for (const double depth : {0.0, 0.25, 0.5, 0.9, 1.0}) {
        SCOPED_TRACE(std::to_string(segment) + " " + std::to_string(length) + " " + std::to_string(depth));
        const auto prompt = task.prompt(length, depth, key, segment);
        ASSERT_EQ(static_cast<int64_t>(prompt.tokens.size()), length);
        EXPECT_EQ(prompt.tokens[0], tokenizer.bos_id());
        EXPECT_TRUE(contains_at(prompt.tokens, 1, intro));
        EXPECT_TRUE(contains_at(prompt.tokens, prompt.key_position, line));
        EXPECT_EQ(prompt.key_tokens, static_cast<int64_t>(line.size()));
        EXPECT_EQ(prompt.question_position, length - static_cast<int64_t>(question.size()));
        EXPECT_TRUE(contains_at(prompt.tokens, prompt.question_position, question));
        EXPECT_EQ(prompt.answer, tokenizer.encode("31415"));
        // Fewer pad tokens than one sentence, right before the question.
        EXPECT_GE(prompt.pad_tokens, 0);
        EXPECT_LT(prompt.pad_tokens, longest);
        for (int64_t i = prompt.question_position - prompt.pad_tokens; i < prompt.question_position; ++i) {
          EXPECT_EQ(prompt.tokens[static_cast<size_t>(i)], tokenizer.pad_id());
        }
        const int64_t sentences = whole_sentences(tokenizer, prompt, head);
        EXPECT_GE(sentences, 0);
        // The key sits between two sentences, further along as the depth grows.
        EXPECT_TRUE(sentence_ends.count(prompt.key_position - head)) << prompt.key_position;
        EXPECT_GE(prompt.key_position, previous_key);
        previous_key = prompt.key_position;
        if (depth == 0.0) {
          EXPECT_EQ(prompt.key_position, head);
        }
        const int64_t key_end = prompt.key_position + prompt.key_tokens - 1;
        if (segment > 0) {
          // A whole segment lies between the key line's segment and the question's.
          EXPECT_LE(key_end / segment + 2, prompt.question_position / segment);
          if (depth == 1.0 && key_end + 1 < prompt.question_position - prompt.pad_tokens) {
            // The end is the last such place: one sentence later would break it.
            int64_t next = -1;
            for (const char* s : {"The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
                                  "There and back again."}) {
              const auto sentence = tokenizer.encode(s);
              if (contains_at(prompt.tokens, key_end + 1, sentence)) next = key_end + static_cast<int64_t>(sentence.size());
            }
            ASSERT_GE(next, 0);
            EXPECT_GT(next / segment + 2, prompt.question_position / segment);
          }
        } else if (depth == 1.0) {
          EXPECT_EQ(key_end + 1, prompt.question_position - prompt.pad_tokens);  // beside the question
        }
      }
    }
    EXPECT_THROW(task.prompt(shortest - 1, 0.5, key, segment), InputError);
  }
  const auto text = tokenizer.decode(task.prompt(400, 0.5, key).tokens);
  EXPECT_NE(text.find("The pass key is 31415. Remember it. 31415 is the pass key."), std::string::npos) << text;
  EXPECT_NE(text.find("green. The pass key is 31415"), std::string::npos) << text;  // never inside a sentence
  EXPECT_THROW(task.prompt(1000, 1.5, key), InputError);
}

TEST(PasskeyTask, DepthNames) {
  EXPECT_EQ(parse_depth("start"), 0.0);
  EXPECT_EQ(parse_depth("middle"), 0.5);
  EXPECT_EQ(parse_depth("end"), 1.0);
  EXPECT_EQ(parse_depth("0.25"), 0.25);
  EXPECT_THROW(parse_depth("1.5"), InputError);
  EXPECT_THROW(parse_depth("0.5x"), InputError);
  EXPECT_THROW(parse_depth("deep"), InputError);
}

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
      EXPECT_TRUE(contains_at(s.inputs, s.answer_start - static_cast<int64_t>(question.size()), question));
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

TEST(PasskeyKeys, SeededFiveDigitKeys) {
  const auto keys = passkey_keys(20, 3);
  EXPECT_EQ(keys, passkey_keys(20, 3));
  EXPECT_NE(keys, passkey_keys(20, 4));
  for (auto key : keys) {
    EXPECT_GE(key, 10000);
    EXPECT_LE(key, 99999);
  }
}

TEST(PasskeyKeys, KeyDigitsSetTheRangeInTrainingAndEvaluation) {
  EXPECT_EQ(passkey_key_range(1).low, 0);
  EXPECT_EQ(passkey_key_range(1).high, 9);
  EXPECT_EQ(passkey_key_range(2).low, 10);
  EXPECT_EQ(passkey_key_range(2).high, 99);
  EXPECT_EQ(passkey_key_range(9).high, 999999999);
  EXPECT_THROW(passkey_key_range(0), InputError);
  EXPECT_THROW(passkey_key_range(10), InputError);
  // The default draws the five-digit keys of before, key for key.
  EXPECT_EQ(passkey_keys(20, 3), passkey_keys(20, 3, 5));
  std::set<int64_t> seen;
  for (auto key : passkey_keys(200, 3, 1)) seen.insert(key);
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  Tokenizer tokenizer(test::shared_tokenizer());
  PasskeyLoaderOptions options;
  options.batch_size = 2;
  options.segment_length = 64;
  options.sequence_length = 64 * 12;
  options.targets = PasskeyTargets::Answer;
  for (const int64_t digits : {1, 2, 3}) {
    options.key_digits = digits;
    PasskeyLoader loader(test::shared_tokenizer(), options);
    const auto range = passkey_key_range(digits);
    for (int64_t n = 0; n < 30; ++n) {
      const auto s = loader.sample(n, loader.min_segments());
      EXPECT_GE(s.key, range.low);
      EXPECT_LE(s.key, range.high);
      EXPECT_EQ(std::to_string(s.key).size(), static_cast<size_t>(digits));
      // The answer is the key's own tokens, and the key line names the same key.
      EXPECT_EQ(tokenizer.decode(s.prompt.answer), std::to_string(s.key));
      EXPECT_EQ(tokenizer.decode(std::vector<int64_t>(s.inputs.begin() + s.prompt.key_position,
                                                      s.inputs.begin() + s.prompt.key_position + s.prompt.key_tokens)),
                PasskeyTask::key_line(s.key));
    }
  }
  options.key_digits = 0;
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

TEST(EvalPasskey, JsonCountsEveryTrialAndCell) {
  test::TempDir dir;
  auto init = test::run_infini("init --config " + std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml --tokenizer " +
                               test::shared_tokenizer() + " --out " + (dir / "ckpt"));
  ASSERT_EQ(init.status, 0) << init.output;
  auto result = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") +
                                 " --lengths 1K,2K --depths start,end --keys 2 --seed 5 --out " + (dir / "p.json"));
  ASSERT_EQ(result.status, 0) << result.output;
  std::ifstream in(dir / "p.json");
  const auto out = nlohmann::json::parse(in);
  EXPECT_EQ(out["kind"], "passkey");
  EXPECT_EQ(out["lengths"], nlohmann::json::array({1024, 2048}));
  ASSERT_EQ(out["trials"].size(), 8u);
  ASSERT_EQ(out["accuracy"].size(), 4u);
  const auto keys = passkey_keys(2, 5);
  for (const auto& cell : out["accuracy"]) {
    int64_t correct = 0, tokens = 0, exact = 0;
    for (const auto& t : out["trials"]) {
      if (t["length"] != cell["length"] || t["depth"] != cell["depth"]) continue;
      correct += t["correct_tokens"].get<int64_t>();
      tokens += t["answer_tokens"].get<int64_t>();
      exact += t["correct_tokens"] == t["answer_tokens"];
      EXPECT_TRUE(t["key"] == keys[0] || t["key"] == keys[1]);
    }
    EXPECT_EQ(cell["trials"], 2);
    EXPECT_DOUBLE_EQ(cell["accuracy"].get<double>(), static_cast<double>(correct) / static_cast<double>(tokens));
    EXPECT_DOUBLE_EQ(cell["exact"].get<double>(), exact / 2.0);
  }
  EXPECT_EQ(out["layout"], "memory-only");
  EXPECT_EQ(out["memory"], true);
  for (const auto& t : out["trials"]) {
    EXPECT_EQ(t["prompt_tokens"], t["length"]);
    EXPECT_GE(t["segments_between"].get<int64_t>(), 1);  // the memory-only layout
    EXPECT_EQ(t["correct"].size(), t["answer_tokens"].get<size_t>());
    ASSERT_EQ(t["answer_nll"].size(), t["answer_tokens"].get<size_t>());
    for (const auto& nll : t["answer_nll"]) EXPECT_GT(nll.get<double>(), 0.0);  // a loss, finite
  }
  // The paper's layout (the key beside the question at depth end) and the ablation flag.
  result = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") +
                            " --lengths 1K --depths end --keys 2 --seed 5 --layout table3 --no-memory --out " +
                            (dir / "n.json"));
  ASSERT_EQ(result.status, 0) << result.output;
  std::ifstream no_memory_in(dir / "n.json");
  const auto no_memory = nlohmann::json::parse(no_memory_in);
  EXPECT_EQ(no_memory["layout"], "table3");
  EXPECT_EQ(no_memory["memory"], false);
  EXPECT_LE(no_memory["trials"][0]["segments_between"].get<int64_t>(), 0);  // the key beside the question
  // Two-digit keys: the answer is the key's two digits, the keys those of passkey_keys.
  result = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") +
                            " --lengths 1K --depths start --keys 2 --seed 5 --key-digits 2 --out " + (dir / "k.json"));
  ASSERT_EQ(result.status, 0) << result.output;
  std::ifstream two_in(dir / "k.json");
  const auto two = nlohmann::json::parse(two_in);
  EXPECT_EQ(two["key_digits"], 2);
  ASSERT_EQ(two["trials"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(two["trials"][i]["key"], passkey_keys(2, 5, 2)[i]);
  const auto two_tokens = Tokenizer(test::shared_tokenizer()).encode(std::to_string(passkey_keys(2, 5, 2)[0])).size();
  EXPECT_EQ(two["trials"][0]["answer_tokens"].get<size_t>(), two_tokens);
  auto bad = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") + " --lengths 1K --key-digits 10");
  EXPECT_EQ(bad.status, 2) << bad.output;
  bad = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") + " --lengths 10");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("shorter than the task's fixed text"), std::string::npos) << bad.output;
  bad = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") + " --lengths 2X");
  EXPECT_EQ(bad.status, 2) << bad.output;
}

// The memory's share of the attention output where each answer token is predicted. Layer 0's two
// terms (g·A_mem and (1 − g)·A_dot) scale with its gate but do not otherwise depend on it, so the
// share at β = 0, s₀ = a / (a + b), fixes it at any β in closed form: s = g·a / (g·a + (1 − g)·b).
// With the memory reset at every segment, nothing comes from memory.
TEST(EvalPasskey, MemoryShareFollowsTheGateInClosedForm) {
  const Tokenizer tokenizer(test::shared_tokenizer());
  auto config = test::tiny_config(AttentionKind::Infini, 32);
  config.vocab_size = tokenizer.vocab_size();
  Decoder decoder(config);
  decoder->initialise(3);
  PasskeyOptions options;
  options.lengths = {512};
  options.depths = {0.0};
  options.keys = 1;
  options.key_digits = 2;
  options.segment_length = 32;
  auto shares_at = [&](double beta) {
    {
      torch::NoGradGuard no_grad;
      decoder->model->layers[0]->self_attn->gate.fill_(beta);
    }
    const auto result = evaluate_passkey(decoder, tokenizer, options);
    EXPECT_EQ(result.trials.size(), 1u);
    return result.trials.at(0).memory_share;
  };
  const auto even = shares_at(0.0);
  const auto tilted = shares_at(1.5);
  const auto answer_tokens = static_cast<size_t>(tokenizer.encode(std::to_string(passkey_keys(1, 0, 2)[0])).size());
  ASSERT_EQ(even.size(), 2 * answer_tokens);  // both layers for every answer token
  const double g = 1.0 / (1.0 + std::exp(-1.5));
  for (size_t i = 0; i < even.size(); ++i) {
    EXPECT_EQ(even[i].answer_token, static_cast<int64_t>(i / 2));
    EXPECT_EQ(even[i].layer, static_cast<int64_t>(i % 2));
    ASSERT_EQ(even[i].heads.size(), 4u);
    if (even[i].layer != 0) continue;
    for (size_t h = 0; h < 4; ++h) {
      const double s0 = even[i].heads[h];
      ASSERT_GT(s0, 0.01);  // the memory holds earlier segments: a read of some size
      ASSERT_LT(s0, 0.99);
      EXPECT_NEAR(tilted[i].heads[h], g * s0 / (g * s0 + (1 - g) * (1 - s0)), 1e-5) << "token " << i / 2 << " head " << h;
    }
  }
  options.memory = false;
  for (const auto& share : shares_at(0.0)) {
    for (const double s : share.heads) EXPECT_EQ(s, 0.0);
  }
}

TEST(PasskeyTraining, AnswerOnlyLossLearnsThatFiveDigitsFollow) {
  // Training from a YAML config with data.task: passkey. With the loss on the key's tokens only,
  // even without retrieval the model learns that digits come next: from about ln(vocab) towards
  // ln(10) per digit (each key's digits are uniform but the first).
  test::TempDir dir;
  const auto config = load_run_config(std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml",
                                      {"data.tokenizer=" + test::shared_tokenizer(), "data.task=passkey",
                                       "data.passkey_loss=answer", "train.sequence_length=512", "train.steps=60",
                                       "train.schedule.warmup_steps=2", "train.optimizer.lr=1e-2", "run.dir=" + (dir / "run")});
  TrainerOptions options;
  Trainer trainer(config, options);
  auto loss_of = [](const StepReport& r) { return r.loss_sum / static_cast<double>(r.tokens); };
  const double first = loss_of(trainer.step());
  double last = 0.0;
  for (int step = 1; step < 60; ++step) {
    const auto report = trainer.step();
    if (step >= 50) last += loss_of(report) / 10.0;
  }
  Tokenizer tokenizer(test::shared_tokenizer());
  EXPECT_GT(first, std::log(static_cast<double>(tokenizer.vocab_size())) - 1.0);
  EXPECT_LT(last, std::log(10.0) + 0.5) << "first " << first;
}
