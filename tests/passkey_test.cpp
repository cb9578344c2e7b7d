// The passkey task: exact prompt lengths and key depths, the fine-tuning batches, and
// `infini eval passkey` through the binary.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
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

TEST(PasskeyTask, PromptHasTheExactLengthWithTheKeyAtTheDepth) {
  Tokenizer tokenizer(test::shared_tokenizer());
  PasskeyTask task(tokenizer);
  const auto intro = tokenizer.encode(PasskeyTask::kIntro);
  const auto filler = tokenizer.encode(PasskeyTask::kFiller);
  const auto question = tokenizer.encode(PasskeyTask::kQuestion);
  const int64_t key = 31415;
  const auto line = tokenizer.encode(PasskeyTask::key_line(key));
  const int64_t shortest = task.shortest_prompt(key);
  EXPECT_EQ(shortest, 1 + static_cast<int64_t>(intro.size() + line.size() + question.size()));
  for (const int64_t length : {shortest, shortest + 1, shortest + 7, int64_t{1000}, int64_t{4096}}) {
    for (const double depth : {0.0, 0.25, 0.5, 0.9, 1.0}) {
      const auto prompt = task.prompt(length, depth, key);
      ASSERT_EQ(static_cast<int64_t>(prompt.tokens.size()), length) << length << " " << depth;
      EXPECT_EQ(prompt.tokens[0], tokenizer.bos_id());
      EXPECT_TRUE(contains_at(prompt.tokens, 1, intro));
      const int64_t filler_tokens = length - shortest;
      const int64_t expected = 1 + static_cast<int64_t>(intro.size()) + std::llround(depth * filler_tokens);
      EXPECT_EQ(prompt.key_position, expected) << length << " " << depth;
      EXPECT_TRUE(contains_at(prompt.tokens, prompt.key_position, line));
      EXPECT_EQ(prompt.key_tokens, static_cast<int64_t>(line.size()));
      EXPECT_TRUE(contains_at(prompt.tokens, length - static_cast<int64_t>(question.size()), question));
      EXPECT_EQ(prompt.answer, tokenizer.encode("31415"));
      // The filler is one continuous repetition around the key line.
      int64_t f = 0;
      for (int64_t i = 1 + static_cast<int64_t>(intro.size()); i < length - static_cast<int64_t>(question.size()); ++i) {
        if (i >= prompt.key_position && i < prompt.key_position + prompt.key_tokens) continue;
        ASSERT_EQ(prompt.tokens[static_cast<size_t>(i)], filler[static_cast<size_t>(f % static_cast<int64_t>(filler.size()))]);
        ++f;
      }
      EXPECT_EQ(f, filler_tokens);
    }
  }
  const auto text = tokenizer.decode(task.prompt(400, 0.5, key).tokens);
  EXPECT_NE(text.find("The pass key is 31415. Remember it. 31415 is the pass key."), std::string::npos) << text;
  EXPECT_THROW(task.prompt(shortest - 1, 0.5, key), InputError);
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

TEST(PasskeyLoader, RowsArePromptThenAnswerAndResumeExactly) {
  PasskeyLoaderOptions options;
  options.batch_size = 3;
  options.sequence_length = 512;
  options.seed = 7;
  PasskeyLoader loader(test::shared_tokenizer(), options);
  Tokenizer tokenizer(test::shared_tokenizer());
  auto first = loader.next();
  ASSERT_EQ(first.inputs.sizes(), (std::vector<int64_t>{3, 512}));
  EXPECT_EQ(first.tokens, 3 * 512);
  EXPECT_TRUE(torch::equal(first.inputs.slice(1, 1), first.targets.slice(1, 0, 511)));
  EXPECT_EQ(first.starts.sum().item<int64_t>(), 3);
  for (int64_t row = 0; row < 3; ++row) {
    const auto [tokens, answer_start] = loader.sample(row);
    ASSERT_EQ(tokens.size(), 513u);
    EXPECT_EQ(first.targets[row][511].item<int64_t>(), tokens.back());
    // The tail is the key's tokens, and the key line holds the same key.
    const std::vector<int64_t> answer(tokens.begin() + answer_start, tokens.end());
    const auto key = tokenizer.decode(answer);
    ASSERT_EQ(key.size(), 5u) << key;
    EXPECT_NE(tokenizer.decode(tokens).find("The pass key is " + key + ". Remember it."), std::string::npos);
  }
  EXPECT_FALSE(torch::equal(first.inputs[0], first.inputs[1]));

  const auto saved = loader.state();
  auto second = loader.next();
  loader.restore(saved);
  EXPECT_TRUE(torch::equal(loader.next().inputs, second.inputs));

  // Answer-only loss: only the key's tokens are targets.
  options.answer_only = true;
  PasskeyLoader answers(test::shared_tokenizer(), options);
  auto batch = answers.next();
  EXPECT_TRUE(torch::equal(batch.inputs, first.inputs));
  int64_t counted = 0;
  for (int64_t row = 0; row < 3; ++row) {
    const auto [tokens, answer_start] = answers.sample(row);
    const int64_t kept = (batch.targets[row] != kIgnoreTarget).sum().item<int64_t>();
    EXPECT_EQ(kept, 513 - answer_start);
    counted += kept;
  }
  EXPECT_EQ(batch.tokens, counted);

  // Two ranks split the job's samples: rank 1's first row is the job's sample 1.
  options.answer_only = false;
  options.world_size = 2;
  options.rank = 1;
  PasskeyLoader rank1(test::shared_tokenizer(), options);
  const auto [tokens, answer_start] = rank1.sample(1);
  EXPECT_TRUE(torch::equal(rank1.next().inputs[0], torch::tensor(tokens, torch::kInt64).slice(0, 0, 512)));

  options.sequence_length = 40;
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

TEST(EvalPasskey, JsonCountsEveryTrialAndCell) {
  test::TempDir dir;
  auto init = test::run_infini("init --config " + std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml --tokenizer " +
                               test::shared_tokenizer() + " --out " + (dir / "ckpt"));
  ASSERT_EQ(init.status, 0) << init.output;
  auto result = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") +
                                 " --lengths 300,1K --depths start,end --keys 2 --seed 5 --out " + (dir / "p.json"));
  ASSERT_EQ(result.status, 0) << result.output;
  std::ifstream in(dir / "p.json");
  const auto out = nlohmann::json::parse(in);
  EXPECT_EQ(out["kind"], "passkey");
  EXPECT_EQ(out["lengths"], nlohmann::json::array({300, 1024}));
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
  auto bad = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") + " --lengths 10");
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("shorter than the task's fixed text"), std::string::npos) << bad.output;
  bad = test::run_infini("eval passkey --checkpoint " + (dir / "ckpt") + " --lengths 2X");
  EXPECT_EQ(bad.status, 2) << bad.output;
}

TEST(PasskeyTraining, AnswerOnlyLossLearnsThatFiveDigitsFollow) {
  // Fine-tuning from a YAML config with data.task: passkey. With the loss on the key's tokens
  // only, even without retrieval the model learns that digits come next: from about ln(vocab)
  // towards ln(10) per digit (each key's digits are uniform but the first).
  test::TempDir dir;
  const auto config = load_run_config(std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml",
                                      {"data.tokenizer=" + test::shared_tokenizer(), "data.task=passkey",
                                       "data.passkey_loss=answer", "train.sequence_length=256", "train.steps=60",
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
