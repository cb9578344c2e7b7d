// Training curves in the report: a run's metrics.jsonl (train/metrics.h) drawn as loss and
// validation loss against tokens seen, the learning rate, and every head's gate over training,
// so the paper's Figure 3 can be watched forming.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace infini {

struct TrainingPoint {
  int64_t step = 0, tokens_seen = 0;
  double loss = 0.0, lr = 0.0;
  std::map<int64_t, std::vector<double>> gates;  // layer → sigmoid(β) per head (the layer's mean alone in older logs)
};

struct TrainingRun {
  std::string name;  // the run directory's name
  std::string path;  // the metrics.jsonl read
  std::vector<TrainingPoint> train, validation;  // by step; a step logged twice (a resumed run) keeps the last
};

// A path that names a training log: a *.jsonl file, or a run directory holding metrics.jsonl.
bool is_training_log(const std::string& path);

// InputError naming the file and line when a line is not a JSON object or lacks step or loss.
TrainingRun read_training_run(const std::string& path);

// "## Training": per run a loss chart, a learning-rate chart and a gate chart per layer.
void training_section(const std::vector<TrainingRun>& runs, std::ostringstream& md, nlohmann::json& summary,
                      std::map<std::string, std::string>& files);

}  // namespace infini
