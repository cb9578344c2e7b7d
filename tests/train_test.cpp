// The training loop end to end on the tiny config: it learns, the gate group gets its own rate
// and decay, non-finite steps are skipped and eventually abort, resume is bit-exact (also after
// SIGTERM), and a changed config is refused on resume.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "config/run_config.h"
#include "eval/perplexity.h"
#include "model/checkpoint.h"
#include "test_support.h"
#include "train/initial_model.h"
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

// The records of a run's metrics.jsonl with this phase, by step.
std::map<int64_t, nlohmann::json> metric_records(const std::string& file, const std::string& phase) {
  std::map<int64_t, nlohmann::json> out;
  std::istringstream lines(test::read_text(file));
  for (std::string line; std::getline(lines, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.at("phase") == phase) out[record.at("step").get<int64_t>()] = record;
  }
  return out;
}

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
                                   "init.gate_init=0.3"}),
                  {});
  std::vector<std::pair<std::string, torch::Tensor>> before;
  for (const auto& item : trainer.model()->named_parameters()) before.emplace_back(item.key(), item.value().clone());
  ASSERT_FALSE(trainer.step().skipped);
  int gates = 0;
  for (const auto& [name, old] : before) {
    const auto& now = trainer.model()->named_parameters()[name];
    if (is_gate_parameter(name)) {
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
  ASSERT_EQ(read_trainer_state(dir_ / "split/checkpoints/step-00000006").step, 6);
  ASSERT_FALSE(fs::exists(dir_ / "split/checkpoints/step-00000008"));
  auto second = test::run_infini("train --config " + tiny() + sets("split", extra) + " --set run.resume=auto");
  ASSERT_EQ(second.status, 0) << second.output;

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
  // The logged numbers agree too: every train record of the resumed run (same loss, tokens seen)
  // and validation at steps 6 and 12.
  const auto whole_train = metric_records(dir_ / "whole/metrics.jsonl", "train");
  const auto split_train = metric_records(dir_ / "split/metrics.jsonl", "train");
  ASSERT_EQ(whole_train.size(), 12u);
  for (const auto& [step, record] : split_train) {
    EXPECT_DOUBLE_EQ(record.at("loss").get<double>(), whole_train.at(step).at("loss").get<double>()) << "step " << step;
    EXPECT_EQ(record.at("tokens_seen"), whole_train.at(step).at("tokens_seen")) << "step " << step;
  }
  EXPECT_TRUE(split_train.count(12));
  // Gates per head (the report draws them over training); the layer's mean is theirs.
  const auto& layer0 = whole_train.at(12).at("gates").at("layer0");
  const auto heads = layer0.at("heads").get<std::vector<double>>();
  ASSERT_EQ(heads.size(), 4u);
  EXPECT_NEAR((heads[0] + heads[1] + heads[2] + heads[3]) / 4, layer0.at("mean").get<double>(), 1e-9);
  EXPECT_GE(whole_train.at(12).at("epoch").get<int64_t>(), whole_train.at(1).at("epoch").get<int64_t>());
  EXPECT_GT(whole_train.at(12).at("wall_time").get<double>(), 1.7e9);
  EXPECT_GE(whole_train.at(12).at("elapsed_seconds").get<double>(), whole_train.at(1).at("elapsed_seconds").get<double>());
  const auto validation = metric_records(dir_ / "whole/metrics.jsonl", "validation");
  ASSERT_EQ(validation.size(), 2u);
  EXPECT_EQ(validation.at(6).at("tokens_seen"), whole_train.at(6).at("tokens_seen"));
  EXPECT_EQ(validation.at(6).at("lr"), whole_train.at(6).at("lr"));
  EXPECT_DOUBLE_EQ(validation.at(12).at("loss").get<double>(),
                   metric_records(dir_ / "split/metrics.jsonl", "validation").at(12).at("loss").get<double>());
  EXPECT_TRUE(fs::exists(dir_ / "whole/train.log"));
  // The resolved config beside the logs reads back as the run's own.
  const auto resolved = parse_resolved_yaml(test::read_text(dir_ / "whole/config.yaml"), "config.yaml");
  EXPECT_EQ(resolved.train.grad_accumulation, 2);
  EXPECT_EQ(flatten_config(resolved), flatten_config(parse_resolved_yaml(
                                          read_trainer_state(dir_ / "whole/checkpoints/step-00000012").config, "state")));
  EXPECT_FALSE(fs::is_empty(dir_ / "whole/tb"));
}

TEST_F(TrainTest, ARunThatFindsTheMachineBusyRestartsWaitingPassivelyAndEndsAsOneThatAlwaysDid) {
  // Started as `infini` starts on an idle machine (spinning, its own choice) beside a process that
  // spins: the trainer's first look at the machine, a quarter second in, finds a core taken, so
  // the run stops after its next step with a checkpoint and `infini train` restarts it waiting
  // passively, every thread kept. It must end as a run that waited passively from the start ends,
  // bit for bit, and say what it did.
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core: no thread to give away";
  const std::string extra = "--set train.steps=40 --set run.threads=0 --set train.save_every=0";
  {
    test::ScopedEnvironment passive({std::pair<std::string, std::string>{"OMP_WAIT_POLICY", "passive"}});
    auto whole = test::run_infini("train --config " + tiny() + sets("whole", extra));
    ASSERT_EQ(whole.status, 0) << whole.output;
  }
  test::BusyChild busy;
  ASSERT_GT(busy.pid(), 0);
  test::ScopedEnvironment chosen({std::pair<std::string, std::string>{"GOMP_SPINCOUNT", "20000"},
                                  std::pair<std::string, std::string>{"INFINI_CHOSE_SPINCOUNT", "1"}});
  auto restarted = test::run_infini("train --config " + tiny() + sets("restarted", extra));
  ASSERT_EQ(restarted.status, 0) << restarted.output;
  EXPECT_NE(restarted.output.find("to restart with threads that wait passively"), std::string::npos)
      << restarted.output;
  EXPECT_NE(restarted.output.find("restarting from"), std::string::npos) << restarted.output;
  EXPECT_NE(restarted.output.find("resumed from"), std::string::npos) << restarted.output;
  EXPECT_NE(restarted.output.find("finished at step 40"), std::string::npos) << restarted.output;
  EXPECT_EQ(restarted.output.find("threads 2 -> 1"), std::string::npos) << restarted.output;
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    const auto a = test::read_text(dir_ / ("whole/checkpoints/step-00000040/" + std::string(file)));
    const auto b = test::read_text(dir_ / ("restarted/checkpoints/step-00000040/" + std::string(file)));
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_TRUE(a == b) << file << " differs after the restart";
  }
}

TEST_F(TrainTest, ChangedConfigIsRefusedOnResumeListingTheKeys) {
  ASSERT_EQ(test::run_infini("train --config " + tiny() + sets("run", "--set train.steps=2")).status, 0);
  auto refused = test::run_infini("train --config " + tiny() +
                                  sets("run", "--set train.steps=4 --set train.batch_size=3 --set train.optimizer.lr=0.1 "
                                              "--set run.dtype=bfloat16") +
                                  " --resume " + (dir_ / "run/checkpoints/step-00000002"));
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("train.batch_size, train.optimizer.lr"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("train.steps"), std::string::npos) << refused.output;
  // The compute dtype is how, not what, the run computes (the weights stay float32), and a machine
  // whose bfloat16 matmuls are slower computes a bfloat16 run in float32: it may change too.
  EXPECT_EQ(refused.output.find("run.dtype"), std::string::npos) << refused.output;
  auto extended = test::run_infini("train --config " + tiny() + sets("run", "--set train.steps=4 --set run.dtype=bfloat16") +
                                   " --resume auto");
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
  Trainer trainer(config("continued", {"init.from=" + (dir_ / "full"), "model.infini_attention.kind=infini",
                                       "init.gate_init=-2", "train.trainable=gates"}),
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

  // --resume continues that run (step 1, its weights); init.from only seeds a fresh one, and is
  // not read at all on resume: the run continues after its starting checkpoint is gone.
  std::filesystem::remove_all(dir_ / "full");
  TrainerOptions resume;
  resume.resume = saved;
  Trainer continued(config("continued", {"init.from=" + (dir_ / "full"), "model.infini_attention.kind=infini",
                                         "init.gate_init=-2", "train.trainable=gates"}),
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
  auto second = load_run_config(stage2, {"init.from=" + (dir_ / "stage1")});
  EXPECT_FALSE(second.model_complete);  // loading reads no checkpoint
  complete_from_init(second, stage2);
  EXPECT_EQ(second.model.layer_kind(3), AttentionKind::Infini);
  EXPECT_EQ(second.model.hidden_size, first.model.hidden_size);
  EXPECT_EQ(second.model.num_hidden_layers, first.model.num_hidden_layers);
  EXPECT_TRUE(second.model.tie_word_embeddings);
  EXPECT_EQ(second.init.gate_init, -3.0);
  EXPECT_EQ(second.train.sequence_length, 4 * second.model.attention.segment_length);
}

TEST_F(TrainTest, CarriedMemoryChainsThroughMicroBatches) {
  // With carry_memory the loader continues every row from micro-batch m to m + 1, so two
  // micro-batches of 2 segments are one sequence of 4 segments with the gradient cut in the
  // middle (bptt_segments 2): the same losses and the same weights, step after step.
  const std::vector<std::string> common = {"train.carry_memory=true", "train.schedule.kind=constant",
                                           "train.schedule.warmup_steps=0", "run.threads=1"};
  auto split = common, whole = common;
  split.insert(split.end(), {"train.grad_accumulation=2", "train.sequence_length=128"});
  whole.insert(whole.end(), {"train.sequence_length=256", "train.bptt_segments=2"});
  Trainer accumulated(config("split", split), {});
  Trainer one(config("whole", whole), {});
  for (int step = 0; step < 3; ++step) {
    const auto a = accumulated.step(), b = one.step();
    ASSERT_EQ(a.tokens, b.tokens);
    EXPECT_NEAR(a.loss_sum, b.loss_sum, 1e-5 * std::abs(b.loss_sum)) << "step " << step;
  }
  auto theirs = one.model()->named_parameters();
  for (const auto& item : accumulated.model()->named_parameters()) {
    EXPECT_TRUE(torch::allclose(item.value(), theirs[item.key()], 1e-4, 1e-6)) << item.key();
  }
}

TEST_F(TrainTest, ValidationFollowsTheEvalSection) {
  // eval.memory false resets the memory at every segment and eval.segment_length sets the
  // segment: validation gives what evaluate_perplexity gives with those options, not the default.
  Trainer trainer(config("eval", {"data.validation=" + (dir_ / "validation.txt"), "eval.memory=false",
                                  "eval.segment_length=32", "eval.bucket_width=100"}),
                  {});
  const auto report = trainer.validate();
  const auto corpus = open_corpus(dir_ / "validation.txt", test::shared_tokenizer());
  auto nll = [&](PerplexityOptions options) {
    options.log_documents = false;
    double sum = 0.0;
    for (const auto& d : evaluate_perplexity(trainer.model(), *corpus, options).documents) sum += d.nll;
    return sum;
  };
  PerplexityOptions configured;
  configured.memory = false;
  configured.segment_length = 32;
  ASSERT_GT(report.tokens, 0);
  EXPECT_NEAR(report.nll, nll(configured), 1e-9 * report.nll);
  EXPECT_GT(std::abs(report.nll - nll(PerplexityOptions{})), 1e-6 * report.nll);
}

TEST_F(TrainTest, ScoringADocumentReportsEverySegment) {
  // What the progress line inside a long document hears: the tokens scored after each forward
  // call, without changing the score.
  Trainer trainer(config("progress"), {});
  const auto corpus = open_corpus(dir_ / "validation.txt", test::shared_tokenizer());
  const auto document = corpus->load(0);
  const auto predicted = static_cast<int64_t>(document.tokens.size()) - 1;
  ASSERT_GT(predicted, 64);
  PerplexityOptions options;
  options.segment_length = 32;
  std::vector<PositionBucket> quiet_buckets, heard_buckets;
  std::vector<int64_t> heard;
  const double quiet = document_nll(trainer.model(), document.tokens, options, quiet_buckets);
  const double loud = document_nll(trainer.model(), document.tokens, options, heard_buckets,
                                   [&](int64_t scored) { heard.push_back(scored); });
  EXPECT_EQ(loud, quiet);
  // One report per forward call: whole segments, at most segments_per_call of them at a time.
  const int64_t stretch = 32 * trainer.model()->segments_per_call(32);
  ASSERT_FALSE(heard.empty());
  for (size_t i = 0; i < heard.size(); ++i) {
    const int64_t before = i == 0 ? 0 : heard[i - 1];
    EXPECT_GT(heard[i], before);
    EXPECT_LE(heard[i] - before, stretch);
    if (i + 1 < heard.size()) {
      EXPECT_EQ(heard[i] % 32, 0) << i;
    }
  }
  EXPECT_EQ(heard.back(), predicted);
}
