// The training loop: owns the model, the loader and the run's components — the optimizer with its
// parameter groups (parameter_groups.h), the checkpoints (checkpoint_manager.h), the log
// (training_log.h) — and runs steps, validation and checkpoints on their cadences.
//
// A step feeds every batch row k segments in order with the memory carried between them, sums
// their losses and backpropagates through the memory (bptt.h), over grad_accumulation
// micro-batches; gradients are summed across ranks, clipped by global norm (gradients.h) and
// applied by AdamW. Non-finite steps are skipped and counted.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "core/cpu_share.h"
#include "data/corpus.h"
#include "model/decoder.h"
#include "train/bptt.h"
#include "train/checkpoint_manager.h"
#include "train/communicator.h"
#include "train/parameter_groups.h"
#include "train/stop_signal.h"
#include "train/training_data.h"
#include "train/training_log.h"

namespace infini {

struct TrainerOptions {
  std::string config_origin = "config";  // the file the config came from, for messages
  std::string resume;                    // a checkpoint to continue (overrides run.resume)
  int64_t stop_at_step = 0;              // stop with a checkpoint after this step; 0: run to train.steps
  bool progress_bar = false;
  bool replace_run = false;              // start fresh even where run.dir holds a run: delete it first
  // When other processes keep cores busy (core/cpu_share.h), stop after the step with a checkpoint
  // for the caller to restart from with passive waits, instead of dropping threads.
  bool stop_to_wait_passively = false;
};

struct TrainResult {
  bool finished = false;  // false: stopped early (signal, stop_at_step or busy cores) with a checkpoint
  bool to_wait_passively = false;  // stopped because other processes got busy (stop_to_wait_passively)
  int64_t step = 0;
  std::string checkpoint;  // the last one written
};

class Trainer {
 public:
  Trainer(RunConfig config, TrainerOptions options,
          std::shared_ptr<Communicator> communicator = std::make_shared<SingleProcess>());

  TrainResult run(const StopSignal* stop = nullptr);
  StepReport step();
  // Validation perplexity over data.validation as the eval section says (segment length,
  // memory carried or reset, documents and tokens per document from the train section).
  ValidationReport validate();
  // Writes this step's checkpoint (once), points the RUN_DIR links named in `links` at it, then
  // applies train.keep_last; returns its directory.
  std::string save_checkpoint(const std::vector<std::string>& links = {});

  Decoder& model() { return model_; }
  const TrainerState& state() const { return state_; }
  const RunConfig& config() const { return config_; }
  std::string checkpoints_dir() const { return checkpoints_.checkpoints_dir(); }

 private:
  void resume_from(const std::string& dir);
  void record_validation(const ValidationReport& report);

  RunConfig config_;
  TrainerOptions options_;
  std::shared_ptr<Communicator> comm_;
  torch::Device device_;
  CheckpointManager checkpoints_;
  TrainingData data_;
  std::unique_ptr<Corpus> validation_;
  std::optional<CpuShare> cpu_share_;  // run.threads 0 on the CPU, not deterministic: threads follow the load
  Decoder model_{nullptr};
  TrainableParameters trainable_;
  std::unique_ptr<TrainingLog> log_;
  TrainerState state_;
  // With train.carry_memory, the memory after the last micro-batch: the loader continues every
  // row from one micro-batch to the next, so one state is chained through them all.
  ModelState carried_;
  BpttOptions bptt_;
};

}  // namespace infini
