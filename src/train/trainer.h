// The training loop: owns the model, the optimizer, the loader and the run directory, and runs
// steps, logging, validation and checkpoints on their cadences (train section of the config).
//
// A step feeds every batch row k segments in order with the memory carried between them, sums
// their losses and backpropagates through the memory (bptt.h), over grad_accumulation
// micro-batches; gradients are summed across ranks (communicator.h), clipped by global norm and
// applied by AdamW with the gates in their own group. Non-finite steps are skipped and counted.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "data/corpus.h"
#include "model/decoder.h"
#include "train/bptt.h"
#include "train/communicator.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "core/progress.h"
#include "train/stop_signal.h"
#include "train/training_checkpoint.h"
#include "train/training_data.h"

namespace infini {

struct TrainerOptions {
  std::string config_origin = "config";  // the file the config came from, for messages
  std::string resume;                    // a checkpoint to continue (overrides run.resume)
  int64_t stop_at_step = 0;              // stop with a checkpoint after this step; 0: run to train.steps
  bool progress_bar = false;
  bool replace_run = false;              // start fresh even where run.dir holds a run: delete it first
};

struct StepReport {
  bool skipped = false;  // non-finite loss or gradients: no update
  double loss_sum = 0.0; // nats over `tokens` (all ranks)
  int64_t tokens = 0;     // predicted tokens, the loss's denominator (all ranks)
  int64_t positions = 0;  // input positions run through the model (all ranks), for throughput
  double grad_norm = 0.0;  // before clipping
  double lr = 0.0;         // the base group's learning rate of this update
};

struct ValidationReport {
  double nll = 0.0;
  int64_t tokens = 0, bytes = 0, documents = 0;
  double loss() const { return tokens > 0 ? nll / static_cast<double>(tokens) : 0.0; }
};

struct TrainResult {
  bool finished = false;  // false: stopped early (signal or stop_at_step) with a checkpoint
  int64_t step = 0;
  std::string checkpoint;  // the last one written
};

class Trainer {
 public:
  Trainer(RunConfig config, TrainerOptions options,
          std::shared_ptr<Communicator> communicator = std::make_shared<SingleProcess>());

  TrainResult run(const StopSignal* stop = nullptr);
  StepReport step();
  ValidationReport validate();
  // Writes this step's checkpoint (once), points the RUN_DIR links named in `links` at it, then
  // applies train.keep_last; returns its directory.
  std::string save_checkpoint(const std::vector<std::string>& links = {});

  Decoder& model() { return model_; }
  const TrainerState& state() const { return state_; }
  const RunConfig& config() const { return config_; }
  std::string checkpoints_dir() const { return config_.run.dir + "/checkpoints"; }

 private:
  void resume_from(const std::string& dir);
  void build_optimizer();
  void log_progress(const StepReport& report);
  void log_validation(const ValidationReport& report);

  RunConfig config_;
  TrainerOptions options_;
  std::shared_ptr<Communicator> comm_;
  torch::Device device_;
  std::string tokenizer_;
  TrainingData data_;
  std::unique_ptr<Corpus> validation_;
  Decoder model_{nullptr};
  std::unique_ptr<AdamW> optimizer_;
  std::vector<torch::Tensor> trainable_;  // train.trainable's parameters
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<ProgressBar> progress_;
  TrainerState state_;
  std::vector<ModelState> carried_;  // per micro-batch, with train.carry_memory
  BpttOptions bptt_;
  double flops_per_token_ = 0.0;     // forward + backward model FLOPs
  double peak_flops_ = 0.0;          // measured matmul rate, FLOP/s
  int64_t saved_step_ = -1;
  std::string last_checkpoint_;

  struct Window {  // what happened since the last log line
    double loss_sum = 0.0, seconds = 0.0;
    int64_t tokens = 0, positions = 0, steps = 0;
  } window_;
};

// Keys whose change a resumed run accepts (cadences, step count, where and how it runs).
bool may_change_on_resume(const std::string& key);

}  // namespace infini
