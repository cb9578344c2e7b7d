// Where a run's numbers go: RUN_DIR/metrics.jsonl (one JSON object a record), TensorBoard event
// files in RUN_DIR/tb/ (every number of a record as a scalar "phase/key"), and the log, which
// goes to the console and RUN_DIR/train.log for as long as the MetricsLog lives.
#pragma once

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <string>

#include "formats/tensorboard.h"

namespace infini {

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& run_dir);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // `record` holds "step" and "phase" ("train", "validation"); each line gains "wall_time"
  // (Unix seconds) and "elapsed_seconds" (since this log was opened: this process's part of the
  // run). Its other numbers, nested objects included ("gates": {"layer0": {"mean": ...}}),
  // become TensorBoard scalars (not wall_time: every event has its own).
  void write(nlohmann::json record);

 private:
  std::ofstream jsonl_;
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
  TensorBoardWriter tensorboard_;
  std::shared_ptr<spdlog::sinks::sink> file_sink_;
};

}  // namespace infini
