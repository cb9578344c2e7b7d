// The passkey task: exact prompt lengths and key depths, key ranges, and `infini eval passkey`
// through the binary (the training batches: passkey_loader_test.cpp).
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
    if (!test::contains_at(filler, static_cast<int64_t>(at), sentence)) return -1;
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
        EXPECT_TRUE(test::contains_at(prompt.tokens, 1, intro));
        EXPECT_TRUE(test::contains_at(prompt.tokens, prompt.key_position, line));
        EXPECT_EQ(prompt.key_tokens, static_cast<int64_t>(line.size()));
        EXPECT_EQ(prompt.question_position, length - static_cast<int64_t>(question.size()));
        EXPECT_TRUE(test::contains_at(prompt.tokens, prompt.question_position, question));
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
              if (test::contains_at(prompt.tokens, key_end + 1, sentence)) next = key_end + static_cast<int64_t>(sentence.size());
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
