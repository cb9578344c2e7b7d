// Training checkpoints (SPEC section 2): a model checkpoint directory plus what resuming needs to
// continue bit for bit:
//
//   trainer_state.json        step, tokens seen, the loader's exact position, RNG state, the
//                             resolved config and its hash, best validation loss, guard counters
//   optimizer.safetensors     AdamW moments by parameter name
//   memory_state.safetensors  the memory carried into the next step (train.carry_memory only)
//
// They live in RUN_DIR/checkpoints/step-NNNNNNNN, each written whole or not at all.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/loader.h"
#include "model/decoder.h"
#include "train/optimizer.h"

namespace infini {

struct TrainerState {
  int64_t step = 0;          // updates done (skipped ones included)
  int64_t optimizer_steps = 0;
  int64_t tokens_seen = 0;
  LoaderState loader;
  int64_t world_size = 1;
  std::vector<LoaderState> rank_loaders;  // with several ranks: each rank's position, in rank order
  std::string rng;           // the CPU generator's state, hex
  std::string config;        // the resolved YAML
  std::string config_hash;
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  int64_t skipped_steps = 0;     // non-finite loss or gradients
  int64_t bad_steps_in_row = 0;

  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& json, const std::string& origin);
};

struct TrainingCheckpoint {
  std::string dir;
  TrainerState state;
};

std::string checkpoint_dir_name(int64_t step);  // "step-00000050"

void save_training_checkpoint(const std::string& dir, Decoder& model, const std::string& tokenizer,
                              const AdamW& optimizer, const TrainerState& state,
                              const std::vector<ModelState>& carried);

TrainerState read_trainer_state(const std::string& dir);
NamedTensors read_optimizer_state(const std::string& dir);
std::vector<ModelState> read_carried_state(const std::string& dir, torch::Device device);

// The newest complete checkpoint under `checkpoints` ("" when there is none).
std::string latest_checkpoint(const std::string& checkpoints);
// The complete checkpoints under `checkpoints`, by step, oldest first.
std::vector<std::string> list_checkpoints(const std::string& checkpoints);
// Retention after writing the checkpoint of `current_step`: of the checkpoints up to that step,
// deletes all but the newest `keep_last`, never the current one nor those of the steps in `keep`
// (what `best` and `final` point at). Checkpoints past `current_step` (another line of a run
// resumed from an earlier checkpoint) are left alone.
void prune_checkpoints(const std::string& checkpoints, int64_t keep_last, int64_t current_step,
                       const std::vector<int64_t>& keep);
// The step of the checkpoint the link `path` points at; -1 when it is no link to a checkpoint.
int64_t linked_step(const std::string& path);

// RUN_DIR's links to checkpoints.
inline const std::vector<std::string> kRunLinks = {"best", "final"};

// Before a fresh run starts in `run_dir`: InputError when it holds checkpoints of another run,
// naming the ways on, unless `replace`; then (on the main rank) that run's checkpoints, links and
// logs are deleted.
void claim_run_dir(const std::string& run_dir, bool replace, bool main_rank);

// After the checkpoint of `step` is written: points each RUN_DIR link named in `links` at it
// (replaced by a rename, never missing), then applies retention keeping the best step and every
// checkpoint a link points at.
void link_and_prune(const std::string& run_dir, const std::vector<std::string>& links, int64_t step, int64_t keep_last,
                    int64_t best_step);

// The CPU generator's state as hex, and back.
std::string rng_state();
void restore_rng_state(const std::string& hex, const std::string& origin);

}  // namespace infini
