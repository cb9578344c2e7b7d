// A run's checkpoints, built from run.dir and train.keep_last: which one a run continues (and
// the fresh-run rule when none), whether a resumed run's config may differ from the saved one,
// and writing each step's checkpoint once with the RUN_DIR links and retention
// (training_checkpoint.h holds the formats and the file operations).
#pragma once

#include <string>
#include <vector>

#include "config/run_config.h"
#include "train/communicator.h"
#include "train/training_checkpoint.h"

namespace infini {

// Keys whose change a resumed run accepts (cadences, step count, where and how it runs, and
// init, which only shapes a fresh start).
bool may_change_on_resume(const std::string& key);
// The fingerprint of the keys that may not change.
std::string config_hash(const RunConfig& config);

class CheckpointManager {
 public:
  CheckpointManager(std::string run_dir, int64_t keep_last, Communicator& comm);

  std::string checkpoints_dir() const { return run_dir_ + "/checkpoints"; }

  // The checkpoint to continue ("" to start fresh), after removing saves killed mid-way. A
  // fresh start where another run lives is refused here unless `replace` (claim_run_dir).
  std::string choose(const ResumeFrom& resume, bool replace);
  // Before a fresh run's first write, once everything it reads has been checked: with `replace`,
  // deletes the run that lived in run.dir.
  void start_fresh(bool replace);

  // The config a checkpoint was trained with.
  static RunConfig saved_config(const std::string& dir);
  // Reads `dir`'s trainer state after checking `config` (complete, tokenizer bound) against the
  // config saved there: a difference in a key that may not change is an InputError naming every
  // such key, and so is another number of ranks.
  TrainerState read_resumable(const std::string& dir, const RunConfig& config) const;

  // Writes the checkpoint of state.step unless it was written already (or this run resumed
  // from it elsewhere), points the links named in `links` at it, applies retention; returns its
  // directory. Only the main rank writes.
  std::string save(const TrainerState& state, Decoder& model, const std::string& tokenizer, const AdamW& optimizer,
                   const std::vector<ModelState>& carried, const std::vector<std::string>& links);
  // Marks `dir`, the checkpoint of `step`, as this run's last.
  void resumed(const std::string& dir, int64_t step);

  bool saved(int64_t step) const { return saved_step_ == step; }
  const std::string& last() const { return last_; }

 private:
  std::string run_dir_;
  int64_t keep_last_;
  Communicator& comm_;
  int64_t saved_step_ = -1;
  std::string last_;
};

}  // namespace infini
