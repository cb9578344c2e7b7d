// What a run reports as it trains, built from train.log_every and the model: the progress bar,
// one console line and one metrics record (metrics.jsonl, TensorBoard) every log_every steps
// with the window's mean loss, bits per byte, learning rate, gradient norm, throughput, MFU
// against the matmul rate measured at start, memory and the gates; and the validation lines.
// Only the main rank writes.
#pragma once

#include <memory>
#include <string>

#include "config/run_config.h"
#include "core/progress.h"
#include "model/decoder.h"
#include "train/communicator.h"
#include "train/metrics.h"
#include "train/training_checkpoint.h"

namespace infini {

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

class TrainingLog {
 public:
  // Measures the job's matmul peak (every rank's, summed) for MFU; opens RUN_DIR's logs on the
  // main rank.
  TrainingLog(const RunConfig& config, torch::Device device, Communicator& comm, bool progress_bar);

  void started(const Decoder& model, int64_t world_size) const;
  // After each step: `seconds` it took; `state` after it; `epoch`, the loader's pass over the
  // training data (0: the first).
  void step(const StepReport& report, double seconds, const TrainerState& state, int64_t epoch, const Decoder& model,
            double bytes_per_token);
  // Validation after the step `state` has reached (its best loss already updated).
  void validation(const ValidationReport& report, const TrainerState& state);

 private:
  const RunConfig& config_;
  torch::Device device_;
  bool main_;
  std::unique_ptr<MetricsLog> metrics_;
  ProgressBar progress_;
  double flops_per_token_ = 0.0;  // forward + backward model FLOPs
  double peak_flops_ = 0.0;       // measured matmul rate of the job, FLOP/s
  double lr_ = 0.0;               // the last step's base learning rate
  struct Window {                 // what happened since the last log line
    double loss_sum = 0.0, seconds = 0.0;
    int64_t tokens = 0, positions = 0, steps = 0;
  } window_;
};

}  // namespace infini
