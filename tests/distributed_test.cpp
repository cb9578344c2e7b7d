// Data parallelism over c10d/Gloo with two local processes: the launcher's environment and its
// failure handling; two ranks of batch b train exactly like one rank of batch 2b; resume under
// two ranks is bit-exact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/checkpoint.h"
#include "test_support.h"

using namespace infini;
namespace fs = std::filesystem;

namespace {

// A port per test process and call, so concurrent tests do not meet at one rendezvous.
int next_port() {
  static int offset = 0;
  return 20000 + static_cast<int>(::getpid() % 2000) * 10 + offset++;
}

class Distributed : public ::testing::Test {
 protected:
  void SetUp() override {
    // Documents longer than every row's tokens over a run, so each row keeps one document and
    // "rank r of 2, batch 1" reads exactly what "row r of batch 2" reads.
    fs::create_directories(dir_ / "corpus");
    for (int i = 0; i < 4; ++i) {
      test::write_text(dir_ / ("corpus/doc" + std::to_string(i) + ".txt"), test::generated_text(3000, 40 + i));
    }
  }

  std::string train(const std::string& run, const std::string& extra) const {
    return std::string("train --config ") + INFINI_SOURCE_DIR + "/configs/tiny.yaml --progress off" +
           " --set data.tokenizer=" + test::shared_tokenizer() + " --set data.train=" + (dir_ / "corpus") +
           " --set run.dir=" + (dir_ / run) + " --set run.threads=1 --set train.log_every=1 " + extra;
  }

  // `infini launch` of `infini` itself: prefix a command's arguments with it.
  std::string launch(int nproc) const {
    return "launch --nproc " + std::to_string(nproc) + " --master-port " + std::to_string(next_port()) + " -- " +
           INFINI_BINARY + " ";
  }
  std::string launch_command(int nproc) const {
    return "launch --nproc " + std::to_string(nproc) + " --master-port " + std::to_string(next_port()) + " -- ";
  }

  test::TempDir dir_;
};

}  // namespace

TEST_F(Distributed, LauncherSetsTheTorchrunEnvironment) {
  auto result = test::run_infini(launch_command(2) + "sh -c 'echo rank=$RANK/$WORLD_SIZE local=$LOCAL_RANK at=$MASTER_ADDR'");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("rank=0/2 local=0 at=127.0.0.1"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("rank=1/2 local=1 at=127.0.0.1"), std::string::npos) << result.output;
}

TEST_F(Distributed, ADeadRankFailsTheWholeJob) {
  const auto start = std::chrono::steady_clock::now();
  auto result = test::run_infini(launch_command(2) + "sh -c 'if [ \"$RANK\" = 1 ]; then kill -9 $$; fi; exec sleep 60'");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.status, 1) << result.output;
  EXPECT_NE(result.output.find("rank 1 was killed by signal Killed"), std::string::npos) << result.output;
  EXPECT_LT(seconds, 30) << "the surviving rank was not stopped";
}

TEST_F(Distributed, TwoRanksOfBatchOneTrainLikeOneRankOfBatchTwo) {
  auto one = test::run_infini(train("one", "--set train.steps=4 --set train.batch_size=2"));
  ASSERT_EQ(one.status, 0) << one.output;
  auto two = test::run_infini(launch(2) + train("two", "--set train.steps=4 --set train.batch_size=1"));
  ASSERT_EQ(two.status, 0) << two.output;
  Decoder a = load_model(dir_ / "one/final"), b = load_model(dir_ / "two/final");
  auto pa = a->named_parameters(), pb = b->named_parameters();
  double largest = 0;
  for (const auto& item : pa) {
    largest = std::max(largest, (item.value() - pb[item.key()]).abs().max().item<double>());
  }
  EXPECT_LT(largest, 1e-5);
  // Rank 0 alone logs: one train record per step, with the job's tokens (2 rows of 256).
  const auto metrics = test::read_text(dir_ / "two/metrics.jsonl");
  int records = 0;
  for (size_t at = metrics.find("\"phase\":\"train\""); at != std::string::npos;
       at = metrics.find("\"phase\":\"train\"", at + 1)) {
    ++records;
  }
  EXPECT_EQ(records, 4);
  EXPECT_NE(metrics.find("\"tokens_seen\":2048"), std::string::npos) << metrics;
}

TEST_F(Distributed, ResumeUnderTwoRanksIsBitExact) {
  const std::string extra = "--set train.steps=6 --set train.batch_size=1 --set train.save_every=3";
  ASSERT_EQ(test::run_infini(launch(2) + train("whole", extra)).status, 0);
  auto first = test::run_infini(launch(2) + train("split", extra + " --stop-at-step 3"));
  ASSERT_EQ(first.status, 0) << first.output;
  auto second = test::run_infini(launch(2) + train("split", extra + " --resume auto"));
  ASSERT_EQ(second.status, 0) << second.output;
  for (const char* file : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    const auto a = test::read_text(dir_ / ("whole/checkpoints/step-00000006/" + std::string(file)));
    const auto b = test::read_text(dir_ / ("split/checkpoints/step-00000006/" + std::string(file)));
    EXPECT_FALSE(a.empty()) << file;
    if (std::string(file) != "trainer_state.json") EXPECT_TRUE(a == b) << file << " differs after resume";
  }
  EXPECT_NE(test::read_text(dir_ / "split/checkpoints/step-00000006/trainer_state.json").find("\"rank_loaders\""),
            std::string::npos);
}

// Naming a backend makes even one rank join a process group (how scripts/gpu_check.sh checks NCCL
// on one GPU): over Gloo that rank's all-reduces are the identity, so it trains exactly as a
// process alone. NCCL on the CPU, or in a build without it, is refused as bad input.
TEST_F(Distributed, OneRankJoinsAGroupWhenABackendIsNamed) {
  const std::string extra = "--set train.steps=3 --set train.batch_size=1 --set train.save_every=3";
  auto alone = test::run_infini(train("alone", extra));
  ASSERT_EQ(alone.status, 0) << alone.output;
  test::CommandResult group, nccl;
  {
    const auto environment = test::ScopedEnvironment::one_rank_group(next_port());
    group = test::run_infini(train("group", extra + " --set run.deterministic=true --dist-backend gloo"));
    nccl = test::run_infini(train("nccl", extra + " --dist-backend nccl"));
  }
  ASSERT_EQ(group.status, 0) << group.output;
  const auto model = test::read_text(dir_ / "alone/checkpoints/step-00000003/model.safetensors");
  EXPECT_FALSE(model.empty());
  EXPECT_TRUE(model == test::read_text(dir_ / "group/checkpoints/step-00000003/model.safetensors"));
  EXPECT_EQ(nccl.status, 2) << nccl.output;
  EXPECT_NE(nccl.output.find("nccl"), std::string::npos) << nccl.output;
}
