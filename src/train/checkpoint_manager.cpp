#include "train/checkpoint_manager.h"

#include <filesystem>
#include <set>
#include <spdlog/spdlog.h>

#include "core/errors.h"
#include "core/files.h"
#include "core/staged_directory.h"

namespace infini {

namespace fs = std::filesystem;

namespace {

const std::set<std::string> kMayChange = {
    "train.steps",        "train.log_every",  "train.eval_every", "train.eval_documents",
    "train.eval_tokens_per_document", "train.save_every", "train.keep_last", "train.max_bad_steps",
    "run.resume",         "run.dir",          "run.threads",      "run.device",       "run.dtype",
    "data.validation",    "eval.segment_length", "eval.memory",   "eval.bucket_width",
    "init.from",          "init.gate_init"};

}  // namespace

bool may_change_on_resume(const std::string& key) { return kMayChange.count(key) > 0; }

std::string config_hash(const RunConfig& config) {
  std::string fixed;
  for (const auto& [key, value] : flatten_config(config)) {
    if (!may_change_on_resume(key)) fixed += key + "=" + value + "\n";
  }
  return fingerprint(fixed);
}

CheckpointManager::CheckpointManager(std::string run_dir, int64_t keep_last, Communicator& comm)
    : run_dir_(std::move(run_dir)), keep_last_(keep_last), comm_(comm) {}

std::string CheckpointManager::choose(const ResumeFrom& resume, bool replace) {
  fs::create_directories(run_dir_);
  if (comm_.is_main()) {
    for (const auto& stale : remove_stale_staging(checkpoints_dir())) {
      spdlog::info("removed {}: a checkpoint save killed mid-way", stale);
    }
  }
  std::string dir = resume.checkpoint;
  if (resume.mode == ResumeFrom::Mode::Auto) {
    dir = latest_checkpoint(checkpoints_dir());
    if (dir.empty()) spdlog::info("run.resume auto: no checkpoint in {}, starting fresh", checkpoints_dir());
  }
  if (!dir.empty() && !fs::is_directory(dir)) throw InputError(dir + ": no such checkpoint directory");
  if (dir.empty() && !replace) claim_run_dir(run_dir_, false, comm_.is_main());
  return dir;
}

void CheckpointManager::start_fresh(bool replace) { claim_run_dir(run_dir_, replace, comm_.is_main()); }

RunConfig CheckpointManager::saved_config(const std::string& dir) {
  return parse_resolved_yaml(read_trainer_state(dir).config, dir + "/trainer_state.json");
}

TrainerState CheckpointManager::read_resumable(const std::string& dir, const RunConfig& config) const {
  TrainerState state = read_trainer_state(dir);
  const RunConfig saved = parse_resolved_yaml(state.config, dir + "/trainer_state.json");
  const auto before = flatten_config(saved), now = flatten_config(config);
  std::set<std::string> keys;
  for (const auto& [key, value] : before) keys.insert(key);
  for (const auto& [key, value] : now) keys.insert(key);
  std::string refused;
  for (const auto& key : keys) {
    const auto a = before.find(key), b = now.find(key);
    const bool same = a != before.end() && b != now.end() && a->second == b->second;
    if (!same && !may_change_on_resume(key)) refused += (refused.empty() ? "" : ", ") + key;
  }
  if (!refused.empty()) {
    throw InputError(dir + ": cannot resume with a changed config; changed keys that must stay the same: " + refused);
  }
  if (state.world_size != comm_.world_size()) {
    throw InputError(dir + ": written by " + std::to_string(state.world_size) + " ranks; resume it with as many (this job has " +
                     std::to_string(comm_.world_size()) + ")");
  }
  return state;
}

void CheckpointManager::resumed(const std::string& dir, int64_t step) {
  saved_step_ = step;
  last_ = dir;
}

std::string CheckpointManager::save(const TrainerState& state, Decoder& model, const std::string& tokenizer,
                                    const AdamW& optimizer, const std::vector<ModelState>& carried,
                                    const std::vector<std::string>& links) {
  const auto dir = checkpoints_dir() + "/" + checkpoint_dir_name(state.step);
  if (saved_step_ == state.step && !fs::exists(dir)) return last_;  // resumed from elsewhere, not stepped
  if (saved_step_ != state.step) {
    if (comm_.is_main()) {
      fs::create_directories(checkpoints_dir());
      save_training_checkpoint(dir, model, tokenizer, optimizer, state, carried);
      spdlog::info("step {}: wrote {}", state.step, dir);
    }
    saved_step_ = state.step;
    last_ = dir;
  }
  if (comm_.is_main()) link_and_prune(run_dir_, links, state.step, keep_last_, state.best_step);
  return dir;
}

}  // namespace infini
