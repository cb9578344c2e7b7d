#include "report/training_curves.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/number_format.h"
#include "report/sections.h"
#include "report/svg.h"

namespace infini {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string metrics_file(const std::string& path) {
  return fs::is_directory(path) ? (fs::path(path) / "metrics.jsonl").string() : path;
}

TrainingPoint point_of(const json& record, const std::string& where) {
  TrainingPoint p;
  if (!record.contains("step") || !record["step"].is_number_integer() || !record.contains("loss") ||
      !record["loss"].is_number()) {
    throw InputError(where + ": a metrics record needs a whole-number step and a numeric loss");
  }
  p.step = record["step"].get<int64_t>();
  p.loss = record["loss"].get<double>();
  if (record.contains("tokens_seen") && record["tokens_seen"].is_number()) p.tokens_seen = record["tokens_seen"].get<int64_t>();
  if (record.contains("lr") && record["lr"].is_number()) p.lr = record["lr"].get<double>();
  if (record.contains("gates") && record["gates"].is_object()) {
    for (const auto& [key, layer] : record["gates"].items()) {
      const auto digits = key.substr(std::min<size_t>(5, key.size()));
      if (key.rfind("layer", 0) != 0 || digits.empty() || !layer.is_object() ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      const int64_t index = std::stoll(digits);
      if (layer.contains("heads") && layer["heads"].is_array()) {
        p.gates[index] = layer["heads"].get<std::vector<double>>();
      } else if (layer.contains("mean") && layer["mean"].is_number()) {
        p.gates[index] = {layer["mean"].get<double>()};
      }
    }
  }
  return p;
}

svg::Series series_of(const std::string& name, const std::vector<TrainingPoint>& points, bool dashed,
                      double TrainingPoint::*value) {
  svg::Series s{name, {}, dashed};
  for (const auto& p : points) s.points.emplace_back(static_cast<double>(p.tokens_seen), p.*value);
  return s;
}

}  // namespace

bool is_training_log(const std::string& path) {
  if (fs::is_directory(path)) return fs::exists(fs::path(path) / "metrics.jsonl");
  return fs::path(path).extension() == ".jsonl";
}

TrainingRun read_training_run(const std::string& path) {
  TrainingRun run;
  run.path = metrics_file(path);
  const auto parent = fs::absolute(run.path).parent_path();
  run.name = parent.filename().string();
  std::ifstream in(run.path);
  if (!in) throw InputError(run.path + ": cannot read");
  std::map<int64_t, TrainingPoint> train, validation;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto where = run.path + ":" + std::to_string(number);
    json record;
    try {
      record = json::parse(line);
    } catch (const json::parse_error&) {
      throw InputError(where + ": not a JSON object (metrics.jsonl holds one record a line)");
    }
    if (!record.is_object()) throw InputError(where + ": not a JSON object (metrics.jsonl holds one record a line)");
    const bool validation_record = record.contains("phase") && record["phase"] == "validation";
    auto point = point_of(record, where);
    (validation_record ? validation : train)[point.step] = std::move(point);
  }
  if (train.empty() && validation.empty()) throw InputError(run.path + ": no training records");
  for (auto& [step, p] : train) run.train.push_back(std::move(p));
  for (auto& [step, p] : validation) run.validation.push_back(std::move(p));
  return run;
}

void training_section(const std::vector<TrainingRun>& runs, std::ostringstream& md, json& summary,
                      std::map<std::string, std::string>& files) {
  if (runs.empty()) return;
  md << "## Training\n\n| run | steps | tokens seen | last train loss | best validation loss (step) |\n|---|---|---|---|---|\n";
  auto out = json::object();
  for (const auto& run : runs) {
    const TrainingPoint* best = nullptr;
    for (const auto& p : run.validation) best = !best || p.loss < best->loss ? &p : best;
    const auto& last = run.train.empty() ? run.validation.back() : run.train.back();
    md << fmt::format("| {} | {} | {} | {} | {} |\n", run.name, last.step, count_text(static_cast<double>(last.tokens_seen)),
                      run.train.empty() ? "–" : fmt::format("{:.4f}", run.train.back().loss),
                      best ? fmt::format("{:.4f} ({})", best->loss, best->step) : "–");
    out[run.name] = {{"path", run.path},
                     {"steps", last.step},
                     {"tokens_seen", last.tokens_seen},
                     {"best_validation_loss", best ? json(best->loss) : json(nullptr)}};
  }
  md << "\n";
  summary["training"] = out;
  for (const auto& run : runs) {
    md << "### " << run.name << "\n\n";
    svg::LinePlot loss{"Loss: " + run.name, "tokens seen", "loss (nats/token)", false, false, 0.0, 0.0, {}};
    loss.series.push_back(series_of("train", run.train, false, &TrainingPoint::loss));
    if (!run.validation.empty()) loss.series.push_back(series_of("validation", run.validation, true, &TrainingPoint::loss));
    svg::LinePlot lr{"Learning rate: " + run.name, "tokens seen", "learning rate", false, false, 0.0, 0.0, {}};
    lr.series.push_back(series_of("lr", run.train, false, &TrainingPoint::lr));
    const auto base = report::slug(run.name);
    files["training_loss_" + base + ".svg"] = svg::render(loss);
    files["training_lr_" + base + ".svg"] = svg::render(lr);
    md << "![loss](training_loss_" << base << ".svg) ![learning rate](training_lr_" << base << ".svg)\n\n";
    // One chart per layer, a line per head: sigmoid(β) against tokens seen.
    std::map<int64_t, std::map<size_t, svg::Series>> layers;
    for (const auto& p : run.train) {
      for (const auto& [layer, heads] : p.gates) {
        for (size_t h = 0; h < heads.size(); ++h) {
          auto& s = layers[layer][h];
          s.name = heads.size() == 1 ? "mean of the heads" : "head " + std::to_string(h);
          s.points.emplace_back(static_cast<double>(p.tokens_seen), heads[h]);
        }
      }
    }
    for (const auto& [layer, heads] : layers) {
      svg::LinePlot plot{fmt::format("Gates over training: {}, layer {}", run.name, layer), "tokens seen",
                         "sigmoid(β)", false, false, 0.0, 1.0, {}};
      for (const auto& [h, s] : heads) plot.series.push_back(s);
      const auto chart = fmt::format("training_gates_{}_layer{}.svg", base, layer);
      files[chart] = svg::render(plot);
      md << "![gates of layer " << layer << "](" << chart << ") ";
    }
    if (!layers.empty()) md << "\n\n";
  }
}

}  // namespace infini
