#include "train/metrics.h"

#include <spdlog/sinks/basic_file_sink.h>

#include <algorithm>

#include "core/errors.h"

namespace infini {

namespace {

void write_scalars(TensorBoardWriter& tb, int64_t step, const std::string& prefix, const nlohmann::json& value) {
  if (value.is_number()) {
    tb.scalar(prefix, step, value.get<double>());
  } else if (value.is_object()) {
    for (const auto& [key, inner] : value.items()) write_scalars(tb, step, prefix + "/" + key, inner);
  }
}

}  // namespace

MetricsLog::MetricsLog(const std::string& run_dir) : tensorboard_(run_dir + "/tb") {
  jsonl_.open(run_dir + "/metrics.jsonl", std::ios::app);
  if (!jsonl_) throw InputError(run_dir + "/metrics.jsonl: cannot open for writing");
  file_sink_ = std::make_shared<spdlog::sinks::basic_file_sink_mt>(run_dir + "/train.log");
  spdlog::default_logger()->sinks().push_back(file_sink_);
  // Each line reaches train.log as it is logged: a killed run keeps every line it printed.
  spdlog::default_logger()->flush_on(spdlog::level::info);
}

MetricsLog::~MetricsLog() {
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), file_sink_), sinks.end());
}

void MetricsLog::write(nlohmann::json record) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  record["wall_time"] = std::chrono::duration<double>(now).count();
  record["elapsed_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
  jsonl_ << record.dump() << "\n";
  jsonl_.flush();
  const int64_t step = record.at("step").get<int64_t>();
  const std::string phase = record.at("phase").get<std::string>();
  for (const auto& [key, value] : record.items()) {
    if (key != "step" && key != "phase" && key != "wall_time") write_scalars(tensorboard_, step, phase + "/" + key, value);
  }
  tensorboard_.flush();
}

}  // namespace infini
