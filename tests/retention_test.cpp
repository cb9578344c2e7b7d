// Retention of training checkpoints (train/training_checkpoint.h): pruning never deletes the
// checkpoint just written, the best one, one a link points at, or one past the current step;
// links always point at a complete checkpoint; a fresh run refuses a directory holding a run;
// stale staging directories of dead writers are removed, live ones kept.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "core/errors.h"
#include "core/staged_directory.h"
#include "test_support.h"
#include "train/training_checkpoint.h"

using namespace infini;
namespace fs = std::filesystem;

namespace {

// A stand-in checkpoint: a directory holding trainer_state.json is what counts as complete.
void fake_checkpoint(const std::string& run, int64_t step) {
  const auto dir = run + "/checkpoints/" + checkpoint_dir_name(step);
  fs::create_directories(dir);
  test::write_text(dir + "/trainer_state.json", "{}");
}

std::vector<int64_t> steps_in(const std::string& run) {
  std::vector<int64_t> steps;
  for (const auto& dir : list_checkpoints(run + "/checkpoints")) {
    steps.push_back(std::stoll(fs::path(dir).filename().string().substr(5)));
  }
  return steps;
}

TEST(Retention, NeverDeletesTheNewCheckpointNorLinkedNorLaterOnes) {
  test::TempDir dir;
  const auto run = dir.path();
  for (int64_t step : {10, 20, 30}) fake_checkpoint(run, step);
  link_and_prune(run, {"final"}, 30, 1, -1);  // a finished run: final → 30
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{30}));
  // Resumed from an older checkpoint (written by a run with other steps): step 15 is new.
  fake_checkpoint(run, 5);
  fake_checkpoint(run, 15);
  link_and_prune(run, {}, 15, 1, 5);
  // 15 is the new one, 5 the best, 30 is past the current step and `final` points at it.
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{5, 15, 30}));
  EXPECT_EQ(linked_step(run + "/final"), 30);
  // The link moves before pruning: what it pointed at may go, the new target never.
  fake_checkpoint(run, 40);
  link_and_prune(run, {"final", "best"}, 40, 1, 40);
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{40}));
  EXPECT_TRUE(fs::exists(run + "/final/trainer_state.json"));
  EXPECT_TRUE(fs::exists(run + "/best/trainer_state.json"));
}

TEST(Retention, FreshRunRefusesADirectoryHoldingARunUnlessReplacing) {
  test::TempDir dir;
  const auto run = dir.path();
  claim_run_dir(run, false, true);  // nothing there: fine
  fake_checkpoint(run, 6);
  link_and_prune(run, {"final"}, 6, 3, -1);
  test::write_text(run + "/metrics.jsonl", "{}\n");
  try {
    claim_run_dir(run, false, true);
    FAIL() << "a fresh run was allowed over another run";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("already holds a run"), std::string::npos) << message;
    EXPECT_NE(message.find("--resume auto"), std::string::npos) << message;
  }
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{6}));
  claim_run_dir(run, true, true);
  EXPECT_TRUE(steps_in(run).empty());
  EXPECT_FALSE(fs::exists(run + "/metrics.jsonl"));
  EXPECT_FALSE(fs::is_symlink(run + "/final"));
}

TEST(Retention, StaleStagingOfDeadWritersIsRemovedLiveKept) {
  test::TempDir dir;
  const auto checkpoints = dir / "checkpoints";
  // A process that has exited: its pid is free (until reused, which a fresh pid rarely is).
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const auto dead = checkpoints + "/step-00000002.staging-" + std::to_string(child);
  const auto live = checkpoints + "/step-00000004.staging-" + std::to_string(::getppid());
  fs::create_directories(dead);
  fs::create_directories(live);
  test::write_text(dead + "/optimizer.safetensors", "x");
  const auto removed = remove_stale_staging(checkpoints);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], dead);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
}

}  // namespace
