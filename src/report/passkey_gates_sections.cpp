#include "report/sections.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/number_format.h"
#include "report/svg.h"

namespace infini::report {

using nlohmann::json;

namespace {

std::string depth_name(double depth) {
  if (depth == 0.0) return "start";
  if (depth == 0.5) return "middle";
  if (depth == 1.0) return "end";
  return fmt::format("{:g}", depth);
}

}  // namespace

void passkey_section(const ReportInputs& in, std::ostringstream& md, json& summary,
                     std::map<std::string, std::string>& files) {
  if (in.passkey.empty()) return;
  std::set<int64_t> lengths, trial_counts;
  std::set<double> depths;
  for (const auto& r : in.passkey) {
    for (const auto& c : r.cells()) {
      lengths.insert(c.length);
      depths.insert(c.depth);
      trial_counts.insert(c.trials);
    }
  }
  // One count for every cell is said once; otherwise each value carries its own.
  const bool uniform = trial_counts.size() == 1;
  std::string depth_names;
  for (const double d : depths) depth_names += (depth_names.empty() ? "" : "/") + depth_name(d);
  md << "## Passkey retrieval (laid out like the paper's Table 3)\n\nEach cell: " << depth_names << "; "
     << (uniform ? fmt::format("{} keys per length and depth", *trial_counts.begin())
                 : std::string("the number of keys in brackets"))
     << ".";
  std::set<int64_t> key_digits;
  for (const auto& r : in.passkey) key_digits.insert(r.options.key_digits);
  for (const int64_t digits : key_digits) {
    const auto keys = passkey_key_range(digits);
    md << fmt::format(" Chance for {}-digit keys: 10% of digits, {:g}% exact.", digits,
                      100.0 / static_cast<double>(keys.high - keys.low + 1));
  }
  md << "\n\n";
  auto name_of = [&](const PasskeyResult& r) { return in.label(r.checkpoint) + (r.options.memory ? "" : " without memory"); };
  auto table_of = [&](const char* title, double PasskeyCell::*member) {
    md << "**" << title << " (%)**\n\n| model |";
    for (const auto l : lengths) md << " " << length_text(l) << " |";
    md << "\n|---|";
    for (size_t i = 0; i < lengths.size(); ++i) md << "---|";
    md << "\n";
    for (const auto& r : in.passkey) {
      std::map<std::pair<int64_t, double>, PasskeyCell> cells;
      for (const auto& c : r.cells()) cells[{c.length, c.depth}] = c;
      md << "| " << name_of(r) << " |";
      for (const auto l : lengths) {
        std::string text;
        for (const double d : depths) {
          const auto found = cells.find({l, d});
          std::string value = "–";
          if (found != cells.end()) {
            value = fmt::format("{:.0f}", 100.0 * found->second.*member);
            if (!uniform) value += fmt::format(" ({})", found->second.trials);
          }
          text += (text.empty() ? "" : "/") + value;
        }
        md << " " << text << " |";
      }
      md << "\n";
    }
    md << "\n";
  };
  table_of("Token accuracy", &PasskeyCell::accuracy);
  table_of("Exact match", &PasskeyCell::exact);
  svg::LinePlot plot{"Passkey token accuracy", "prompt length (tokens)", "accuracy (%)", true, false, 0.0, 100.0, {}};
  auto table = json::array();
  for (const auto& r : in.passkey) {
    json row = {{"model", name_of(r)}, {"cells", json::array()}};
    std::map<double, svg::Series> by_depth;
    for (const auto& c : r.cells()) {
      row["cells"].push_back({{"length", c.length},
                              {"depth", c.depth},
                              {"accuracy", 100.0 * c.accuracy},
                              {"exact", 100.0 * c.exact},
                              {"keys", c.trials}});
      auto& series = by_depth[c.depth];
      series.name = name_of(r) + ", " + depth_name(c.depth);
      series.points.emplace_back(static_cast<double>(c.length), 100.0 * c.accuracy);
    }
    for (auto& [depth, series] : by_depth) plot.series.push_back(series);
    table.push_back(row);
  }
  files["passkey.svg"] = svg::render(plot);
  md << "![passkey accuracy](passkey.svg)\n\n";
  summary["passkey"] = table;
}

void gates_section(const ReportInputs& in, std::ostringstream& md, json& summary,
                   std::map<std::string, std::string>& files) {
  std::vector<std::pair<std::string, std::vector<LayerGates>>> models;  // label → gates, first seen wins
  auto add = [&](const std::string& checkpoint, const std::vector<LayerGates>& gates) {
    if (gates.empty()) return;
    const auto label = in.label(checkpoint);
    for (const auto& m : models) {
      if (m.first == label) return;
    }
    models.emplace_back(label, gates);
  };
  for (const auto& r : in.gates) add(r.checkpoint, r.gates);
  for (const auto& r : in.ppl) add(r.checkpoint, r.gates);
  if (models.empty()) return;
  md << "## Gates (the paper's Figure 3)\n\nsigmoid(β) per layer and head: memory-specialised above 0.9, "
        "local-specialised below 0.1, mixers between.\n\n";
  auto out = json::object();
  for (const auto& [label, gates] : models) {
    svg::HeatMap map{"Gates sigmoid(β): " + label, "layer", "head", {}, {},
                     "blue: local (< 0.1)   white: mixer (0.5)   red: memory (> 0.9)"};
    bool all_half = true;
    md << "### " << label << "\n\n| layer | mean | memory heads | local heads | mixer heads |\n|---|---|---|---|---|\n";
    for (const auto& layer : gates) {
      map.rows.push_back("layer " + std::to_string(layer.layer));
      map.values.push_back(layer.values);
      for (const double v : map.values.back()) all_half = all_half && std::fabs(v - 0.5) < 0.05;
      md << fmt::format("| {} | {:.3f} | {} | {} | {} |\n", layer.layer, layer.mean, layer.memory_heads,
                        layer.local_heads,
                        static_cast<int64_t>(layer.values.size()) - layer.memory_heads - layer.local_heads);
    }
    const auto chart = "gates_" + slug(label) + ".svg";
    files[chart] = svg::render(map);
    md << "\n![gate map](" << chart << ")\n\n";
    if (all_half) {
      md << "**Warning:** every gate is within 0.05 of 0.5: the gates have not moved, the failure public ports hit "
            "(see the gate learning rate, `train.optimizer.gate_lr`).\n\n";
    }
    out[label] = {{"gates", gates_to_json(gates)}, {"all_near_half", all_half}};
  }
  summary["gates"] = out;
}

}  // namespace infini::report
