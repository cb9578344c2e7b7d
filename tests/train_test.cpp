// The training loop end to end on the tiny config: it learns, the gate group gets its own rate
// and decay, non-finite steps are skipped and eventually abort, resume is bit-exact (also after
// SIGTERM), and a changed config is refused on resume.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/run_config.h"
#include "model/checkpoint.h"
#include "test_support.h"
#include "train/trainer.h"

using namespace infini;
namespace fs = std::filesystem;

namespace {

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "corpus");
    for (int i = 0; i < 12; ++i) {
      test::write_text(dir_ / ("corpus/doc" + std::to_string(i) + ".txt"), test::generated_text(150 + 90 * i, 20 + i));
    }
    test::write_text(dir_ / "validation.txt", test::generated_text(400, 99));
  }

  std::string tiny() const { return std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml"; }

  // --set flags pointing the tiny config at this test's data and run directory.
  std::string sets(const std::string& run, const std::string& extra = "") const {
    return " --set data.tokenizer=" + test::shared_tokenizer() + " --set data.train=" + (dir_ / "corpus") +
           " --set run.dir=" + (dir_ / run) + " --set train.log_every=1 " + extra;
  }

  RunConfig config(const std::string& run, std::vector<std::string> overrides = {}) const {
    overrides.push_back("data.tokenizer=" + test::shared_tokenizer());
    overrides.push_back("data.train=" + (dir_ / "corpus"));
    overrides.push_back("run.dir=" + (dir_ / run));
    return load_run_config(tiny(), overrides);
  }

  // Starts `infini train` on the tiny config in the background, its output to RUN.log.
  pid_t start_training(const std::string& run, const std::string& extra) const {
    const std::string command = std::string("exec ") + INFINI_BINARY + " train --config " + tiny() + sets(run, extra) +
                                " >" + (dir_ / (run + ".log")) + " 2>&1";
    pid_t child = fork();
    if (child == 0) {
      execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
      _exit(127);
    }
    return child;
  }

  // Polls `file` until it contains `needle` (at most 30 s).
  static void wait_for(const std::string& file, const std::string& needle) {
    for (int i = 0; i < 3000 && test::read_text(file).find(needle) == std::string::npos; ++i) usleep(10000);
  }

  test::TempDir dir_;
};

}  // namespace

TEST_F(TrainTest, SmokeConfigLearns) {
  Trainer trainer(config("smoke"), {});
  const double vocab = static_cast<double>(trainer.config().model.vocab_size);
  std::vector<double> losses;
  for (int i = 0; i < 30; ++i) {
    auto report = trainer.step();
    ASSERT_FALSE(report.skipped);
    losses.push_back(report.loss_sum / static_cast<double>(report.tokens));
  }
  // A fresh model predicts about uniformly: ln(vocabulary size).
  EXPECT_NEAR(losses.front(), std::log(vocab), 0.3);
  const double last = (losses[27] + losses[28] + losses[29]) / 3.0;
  EXPECT_LT(last, losses.front() - 1.0) << "first " << losses.front() << " last " << last;
}

TEST_F(TrainTest, GateGroupHasItsOwnLearningRateAndDecay) {
  // Base learning rate 0: only the gates may move, by AdamW's first step in closed form:
  // β ← β·(1 − lr·wd) − lr·g/(|g| + ε).
  Trainer trainer(config("gates", {"train.optimizer.lr=0", "train.optimizer.gate_lr=0.05",
                                   "train.optimizer.gate_weight_decay=0.5", "train.schedule.warmup_steps=0",
                                   "train.schedule.kind=constant", "train.grad_clip=0",
                                   "model.infini_attention.gate_init=0.3"}),
                  {});
  std::vector<std::pair<std::string, torch::Tensor>> before;
  for (const auto& item : trainer.model()->named_parameters()) before.emplace_back(item.key(), item.value().clone());
  ASSERT_FALSE(trainer.step().skipped);
  int gates = 0;
  for (const auto& [name, old] : before) {
    const auto& now = trainer.model()->named_parameters()[name];
    if (name.size() > 15 && name.substr(name.size() - 15) == ".self_attn.gate") {
      ++gates;
      auto g = now.grad();
      auto expected = old * (1 - 0.05 * 0.5) - 0.05 * g / (g.abs() + 1e-8);
      EXPECT_TRUE(torch::allclose(now, expected, 1e-6, 1e-6)) << name << "\n" << now << "\n" << expected;
      EXPECT_GT((now - old).abs().min().item<double>(), 0.01) << name;
    } else {
      EXPECT_TRUE(torch::equal(now, old)) << name << " moved at learning rate 0";
    }
  }
  EXPECT_EQ(gates, 2);
}

TEST_F(TrainTest, NonFiniteStepsAreSkippedThenAbort) {
  Trainer trainer(config("nan", {"train.max_bad_steps=3"}), {});
  ASSERT_FALSE(trainer.step().skipped);
  auto norm = trainer.model()->named_parameters()["model.norm.weight"];
  auto good = norm.detach().clone();
  auto snapshot = [&] {
    std::vector<torch::Tensor> values;
    for (const auto& p : trainer.model()->parameters()) values.push_back(p.detach().clone());
    return values;
  };
  auto poison = [&] {
    torch::NoGradGuard no_grad;
    norm[0] = std::numeric_limits<float>::quiet_NaN();
  };
  poison();
  auto before = snapshot();
  auto report = trainer.step();
  EXPECT_TRUE(report.skipped);
  EXPECT_EQ(trainer.state().skipped_steps, 1);
  auto after = snapshot();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i].nan_to_num(), after[i].nan_to_num()));

  {
    torch::NoGradGuard no_grad;
    norm.copy_(good);
  }
  EXPECT_FALSE(trainer.step().skipped);
  EXPECT_EQ(trainer.state().bad_steps_in_row, 0);

  poison();
  EXPECT_TRUE(trainer.step().skipped);
  EXPECT_TRUE(trainer.step().skipped);
  try {
    trainer.step();
    FAIL() << "three non-finite steps in a row did not abort";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
  EXPECT_EQ(trainer.state().skipped_steps, 4);
}

TEST_F(TrainTest, ResumeIsBitExact) {
  // Memory carried across steps, accumulation and validation: everything resume must restore.
  const std::string extra = "--set train.steps=12 --set train.save_every=4 --set train.carry_memory=true "
                            "--set train.grad_accumulation=2 --set train.eval_every=6 --set data.validation=" +
                            (dir_ / "validation.txt");
  auto whole = test::run_infini("train --config " + tiny() + sets("whole", extra));
  ASSERT_EQ(whole.status, 0) << whole.output;
  auto first = test::run_infini("train --config " + tiny() + sets("split", extra) + " --stop-at-step 6");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("resume with:"), std::string::npos) << first.output;
  ASSERT_TRUE(fs::exists(dir_ / "split/checkpoints/step-00000006/trainer_state.json"));
  ASSERT_FALSE(fs::exists(dir_ / "split/checkpoints/step-00000008"));
  auto second = test::run_infini("train --config " + tiny() + sets("split", extra) + " --set run.resume=auto");
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from"), std::string::npos);

  for (const char* file : {"model.safetensors", "optimizer.safetensors", "memory_state.safetensors"}) {
    const auto a = test::read_text(dir_ / ("whole/checkpoints/step-00000012/" + std::string(file)));
    const auto b = test::read_text(dir_ / ("split/checkpoints/step-00000012/" + std::string(file)));
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_TRUE(a == b) << file << " differs after resume";
  }
  // keep_last 3 (plus the best), metrics, TensorBoard and the log are there.
  int kept = 0;
  for (const auto& entry : fs::directory_iterator(dir_ / "whole/checkpoints")) kept += entry.is_directory();
  EXPECT_LE(kept, 4);
  EXPECT_TRUE(fs::exists(dir_ / "whole/best/trainer_state.json"));
  const auto metrics = test::read_text(dir_ / "whole/metrics.jsonl");
  EXPECT_NE(metrics.find("\"phase\":\"validation\""), std::string::npos);
  EXPECT_NE(metrics.find("\"gates\""), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ / "whole/train.log"));
  EXPECT_FALSE(fs::is_empty(dir_ / "whole/tb"));
}

TEST_F(TrainTest, ChangedConfigIsRefusedOnResumeListingTheKeys) {
  ASSERT_EQ(test::run_infini("train --config " + tiny() + sets("run", "--set train.steps=2")).status, 0);
  auto refused = test::run_infini("train --config " + tiny() +
                                  sets("run", "--set train.steps=4 --set train.batch_size=3 --set train.optimizer.lr=0.1") +
                                  " --resume " + (dir_ / "run/checkpoints/step-00000002"));
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("train.batch_size, train.optimizer.lr"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("train.steps"), std::string::npos) << refused.output;
  auto extended = test::run_infini("train --config " + tiny() + sets("run", "--set train.steps=4") + " --resume auto");
  EXPECT_EQ(extended.status, 0) << extended.output;
  EXPECT_TRUE(fs::exists(dir_ / "run/checkpoints/step-00000004"));
}

TEST_F(TrainTest, SigtermWritesACheckpointAndResumeContinues) {
  pid_t child = start_training("signal", "--set train.steps=100000 --set train.keep_last=1");
  wait_for(dir_ / "signal/metrics.jsonl", "\"step\":3,");  // a few logged steps, then ask it to stop
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  const auto log = test::read_text(dir_ / "signal.log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  EXPECT_NE(log.find("resume with:"), std::string::npos) << log;
  const std::string checkpoint = latest_checkpoint(dir_ / "signal/checkpoints");
  ASSERT_FALSE(checkpoint.empty()) << log;
  const int64_t stopped = read_trainer_state(checkpoint).step;
  EXPECT_GE(stopped, 3);

  auto resumed = test::run_infini("train --config " + tiny() +
                                  sets("signal", "--set train.steps=" + std::to_string(stopped + 2)) + " --resume " +
                                  checkpoint);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(read_trainer_state(latest_checkpoint(dir_ / "signal/checkpoints")).step, stopped + 2);
}

TEST_F(TrainTest, SecondSignalExitsAtOnceLeavingCheckpointsWhole) {
  pid_t child =
      start_training("twice", "--set train.steps=100000 --set train.save_every=1 --set train.batch_size=96");
  wait_for(dir_ / "twice/metrics.jsonl", "\"step\":2,");
  usleep(300000);  // into step 3 (about a second long), so the second signal lands mid-step
  // Signals of one kind do not queue: send the second once the first has been taken.
  kill(child, SIGTERM);
  wait_for(dir_ / "twice.log", "signal again");
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  // Our handler exits with 128 + SIGTERM; in the instant after training returned, the default
  // action (killed by SIGTERM) is just as immediate.
  const bool at_once = (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) ||
                       (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  EXPECT_TRUE(at_once) << test::read_text(dir_ / "twice.log");
  EXPECT_EQ(test::read_text(dir_ / "twice.log").find("stopped at step"), std::string::npos) << test::read_text(dir_ / "twice.log");
  // The log lines printed before the kill are in train.log too.
  EXPECT_NE(test::read_text(dir_ / "twice/train.log").find("step 2/"), std::string::npos);
  // Every checkpoint directory that exists is complete and loads.
  const auto latest = latest_checkpoint(dir_ / "twice/checkpoints");
  ASSERT_FALSE(latest.empty());
  for (const auto& entry : fs::directory_iterator(dir_ / "twice/checkpoints")) {
    const auto name = entry.path().filename().string();
    if (name.find("staging") != std::string::npos) continue;  // an unfinished write, never read
    EXPECT_NO_THROW(read_trainer_state(entry.path().string())) << name;
    EXPECT_NO_THROW(load_model(entry.path().string())) << name;
  }
}

TEST_F(TrainTest, MissingTokenizerIsABadConfig) {
  auto result = test::run_infini("train --config " + tiny() + " --set data.train=" + (dir_ / "corpus"));
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("data.tokenizer"), std::string::npos) << result.output;
}

TEST_F(TrainTest, InitFromConvertsACheckpointAndStartsAtStepZero) {
  // A full-attention checkpoint, continued as Infini-attention with only the gates trained.
  ASSERT_EQ(test::run_infini("init --config " + tiny() + " --tokenizer " + test::shared_tokenizer() + " --out " +
                             (dir_ / "full") + " --set model.infini_attention.kind=full")
                .status,
            0);
  Decoder source = load_model(dir_ / "full");
  Trainer trainer(config("continued", {"model.init_from=" + (dir_ / "full"), "model.infini_attention.kind=infini",
                                       "model.infini_attention.gate_init=-2", "train.trainable=gates"}),
                  {});
  EXPECT_EQ(trainer.state().step, 0);
  EXPECT_EQ(trainer.config().model.layer_kind(0), AttentionKind::Infini);
  auto params = trainer.model()->named_parameters();
  const auto q = "model.layers.1.self_attn.q_proj.weight";
  EXPECT_TRUE(torch::equal(params[q], source->named_parameters()[q]));
  EXPECT_TRUE(torch::equal(params["model.layers.0.self_attn.gate"], torch::full({4}, -2.0)));
  ASSERT_FALSE(trainer.step().skipped);
  EXPECT_TRUE(torch::equal(params[q], source->named_parameters()[q])) << "a frozen weight moved";
  EXPECT_FALSE(torch::equal(params["model.layers.0.self_attn.gate"], torch::full({4}, -2.0)));
  const auto saved = trainer.save_checkpoint();

  // --resume continues that run (step 1, its weights); init_from only seeds a fresh one.
  TrainerOptions resume;
  resume.resume = saved;
  Trainer continued(config("continued", {"model.init_from=" + (dir_ / "full"), "model.infini_attention.kind=infini",
                                         "model.infini_attention.gate_init=-2", "train.trainable=gates"}),
                    resume);
  EXPECT_EQ(continued.state().step, 1);
  EXPECT_TRUE(torch::equal(continued.model()->named_parameters()["model.layers.0.self_attn.gate"],
                           params["model.layers.0.self_attn.gate"]));
}

TEST_F(TrainTest, TwoStageContinualConfigsChain) {
  // Stage 1's model, then stage 2 reading it through init_from: full becomes infini, sizes stay.
  const std::string stage1 = std::string(INFINI_SOURCE_DIR) + "/configs/continual/stage1-full-short.yaml";
  const std::string stage2 = std::string(INFINI_SOURCE_DIR) + "/configs/continual/stage2-infini-long.yaml";
  auto first = load_run_config(stage1);
  EXPECT_EQ(first.model.layer_kind(0), AttentionKind::Full);
  ASSERT_EQ(test::run_infini("init --config " + stage1 + " --tokenizer " + test::shared_tokenizer() + " --out " +
                             (dir_ / "stage1"))
                .status,
            0);
  auto second = load_run_config(stage2, {"model.init_from=" + (dir_ / "stage1")});
  EXPECT_EQ(second.model.layer_kind(3), AttentionKind::Infini);
  EXPECT_EQ(second.model.hidden_size, first.model.hidden_size);
  EXPECT_EQ(second.model.num_hidden_layers, first.model.num_hidden_layers);
  EXPECT_TRUE(second.model.tie_word_embeddings);
  EXPECT_EQ(second.model.attention.gate_init, -3.0);
  EXPECT_EQ(second.train.sequence_length, 4 * second.model.attention.segment_length);
}
