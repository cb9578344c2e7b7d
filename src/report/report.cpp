#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/files.h"
#include "report/result_check.h"
#include "report/svg.h"

namespace infini {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) bytes /= 1024, ++unit;
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string human_count(double value) {
  if (value >= 1e9) return fmt::format("{:.2f}B", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.2f}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f}K", value / 1e3);
  return fmt::format("{:.0f}", value);
}

std::string human_length(int64_t tokens) {
  if (tokens >= 1048576 && tokens % 1048576 == 0) return fmt::format("{}M", tokens / 1048576);
  if (tokens >= 1024 && tokens % 1024 == 0) return fmt::format("{}K", tokens / 1024);
  return std::to_string(tokens);
}

// The result's model label: set by read_report_inputs, else the checkpoint's short name.
std::string label_of(const json& result) {
  const auto checkpoint = result.at("checkpoint").get<std::string>();
  return result.value("label", checkpoint_label(checkpoint));
}

std::string depth_name(double depth) {
  if (depth == 0.0) return "start";
  if (depth == 0.5) return "middle";
  if (depth == 1.0) return "end";
  return fmt::format("{:g}", depth);
}

std::string slug(const std::string& text) {
  std::string out;
  for (const char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

// "data/corpora/books/test/" → "books/test"
std::string corpus_label(const std::string& path) {
  fs::path p(path);
  if (!p.has_filename()) p = p.parent_path();
  const auto parent = p.parent_path().filename().string();
  return parent.empty() ? p.filename().string() : parent + "/" + p.filename().string();
}

std::string attention_of(const json& result) {
  const auto& attention = result.at("model").at("infini_attention");
  std::string kind = attention.at("kind").get<std::string>();
  if (kind == "infini") kind += " (" + attention.at("memory_update").get<std::string>() + ")";
  return kind;
}

// The row's long-context state: the compressive memory, the XL cache or the whole KV cache.
struct StateSize {
  double bytes = 0, ratio = 0;
  std::string text;
};

StateSize state_size(const json& result) {
  const auto& f = result.at("footprint");
  const auto kind = result.at("model").at("infini_attention").at("kind").get<std::string>();
  const double kv = f.value("kv_cache_bytes_full_attention", 0.0);
  StateSize size;
  if (f.value("memory_state_bytes", 0.0) > 0) {
    size.bytes = f.at("memory_state_bytes").get<double>();
  } else if (kind == "xl") {
    size.bytes = f.value("transformer_xl_bytes", 0.0);
  } else if (kind == "full") {
    size.bytes = kv;
  }
  if (size.bytes <= 0) return {0, 0, "none"};
  size.ratio = kv / size.bytes;
  size.text = fmt::format("{} ({:.1f}×)", human_bytes(size.bytes), size.ratio);
  return size;
}

// The checkpoint, and how it was run when not as trained: "books-small/final (segment 512) without memory".
std::string row_name(const json& result) {
  std::string name = label_of(result);
  const auto segment = result.at("segment_length").get<int64_t>();
  if (segment != result.at("model").at("infini_attention").value("segment_length", segment)) {
    name += " (segment " + std::to_string(segment) + ")";
  }
  return name + (result.value("memory", true) ? "" : " without memory");
}

// Section 1: Table 2 and the footprint table.
void perplexity_tables(const ReportInputs& in, std::ostringstream& md, json& summary) {
  std::vector<std::string> corpora, rows;
  std::map<std::string, std::map<std::string, json>> cells;  // row → corpus → result
  for (const auto& r : in.ppl) {
    const auto corpus = corpus_label(r.value("data", std::string("documents")));
    const auto row = row_name(r);
    if (std::find(corpora.begin(), corpora.end(), corpus) == corpora.end()) corpora.push_back(corpus);
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    cells[row][corpus] = r;
  }
  md << "## Perplexity (laid out like the paper's Table 2)\n\n| model | attention | memory size (compression) | segment |";
  for (const auto& c : corpora) md << " " << c << " ppl | " << c << " bits/byte |";
  md << "\n|---|---|---|---|";
  for (size_t i = 0; i < corpora.size(); ++i) md << "---|---|";
  md << "\n";
  auto table = json::array();
  for (const auto& row : rows) {
    const json& any = cells[row].begin()->second;
    const auto size = state_size(any);
    json entry = {{"model", row_name(any)},
                  {"checkpoint", any.at("checkpoint")},
                  {"attention", attention_of(any)},
                  {"memory", any.value("memory", true)},
                  {"segment_length", any.at("segment_length")},
                  {"state_bytes", size.bytes},
                  {"compression_ratio", size.ratio},
                  {"corpora", json::object()}};
    md << "| " << row_name(any) << " | " << attention_of(any) << " | "
       << (any.value("memory", true) ? size.text : "reset every segment") << " | " << any.at("segment_length") << " |";
    for (const auto& c : corpora) {
      const auto found = cells[row].find(c);
      if (found == cells[row].end()) {
        md << " – | – |";
        continue;
      }
      const auto& total = found->second.at("total");
      md << fmt::format(" {:.2f} | {:.3f} |", total.at("ppl").get<double>(), total.at("bits_per_byte").get<double>());
      entry["corpora"][c] = {{"ppl", total.at("ppl")},
                             {"bits_per_byte", total.at("bits_per_byte")},
                             {"tokens", total.at("tokens")},
                             {"documents", total.at("documents")}};
    }
    md << "\n";
    table.push_back(entry);
  }
  md << "\nMemory size: the long-context state one sequence keeps (infini: M and z of every layer, float32; "
        "xl: the previous segment's keys and values; full: the whole KV cache). Compression: the full-attention "
        "KV cache at the longest document over that size.\n\n";
  summary["table"] = table;

  md << "## Memory footprint (the paper's Table 1 formulas, and measured)\n\n"
        "| model | compressive memory d·(d+1)·H·l | Transformer-XL (d+d)·H·N·l | full KV at L | compression | "
        "parameters | peak RSS | peak CUDA |\n|---|---|---|---|---|---|---|---|\n";
  auto footprints = json::array();
  std::set<std::string> seen;
  for (const auto& r : in.ppl) {
    if (!r.value("memory", true) || !seen.insert(r.at("checkpoint").get<std::string>()).second) continue;
    const auto& f = r.at("footprint");
    md << fmt::format("| {} | {} | {} (N = {}) | {} (L = {}) | {:.1f}× | {} | {} | {} |\n", row_name(r),
                      human_bytes(f.value("memory_state_bytes", 0.0)), human_bytes(f.value("transformer_xl_bytes", 0.0)),
                      f.value("segment_length", int64_t{0}), human_bytes(f.value("kv_cache_bytes_full_attention", 0.0)),
                      f.value("length", int64_t{0}), f.value("compression_ratio", 0.0),
                      human_count(f.value("parameters", 0.0)), human_bytes(f.value("peak_rss_bytes", 0.0)),
                      f.value("peak_device_bytes", 0.0) > 0 ? human_bytes(f.at("peak_device_bytes").get<double>()) : "–");
    footprints.push_back({{"model", row_name(r)}, {"footprint", f}});
  }
  md << "\n";
  summary["footprint"] = footprints;
}

// Section 2: perplexity against position, per corpus, in doubling ranges and as a chart.
void position_section(const ReportInputs& in, std::ostringstream& md, json& summary,
                      std::map<std::string, std::string>& files) {
  std::map<std::string, std::vector<const json*>> by_corpus;
  std::vector<std::string> order;
  for (const auto& r : in.ppl) {
    const auto corpus = corpus_label(r.value("data", std::string("documents")));
    if (!by_corpus.count(corpus)) order.push_back(corpus);
    by_corpus[corpus].push_back(&r);
  }
  if (order.empty()) return;
  md << "## Perplexity against position in the document\n\n";
  auto positions = json::object();
  for (const auto& corpus : order) {
    svg::LinePlot plot;
    plot.title = "Perplexity by position: " + corpus;
    plot.x_label = "position in the document (tokens)";
    plot.y_label = "perplexity";
    // Doubling ranges: [0, w), [w, 2w), [2w, 4w), ... with w the bucket width.
    std::vector<std::string> names;
    std::vector<std::vector<std::pair<int64_t, double>>> ranges;  // per series: (tokens, nll) per range
    std::vector<int64_t> range_ends;
    for (const json* r : by_corpus[corpus]) {
      svg::Series series{row_name(*r), {}, !r->value("memory", true)};
      const auto& buckets = r->at("by_position");
      const double first = buckets.empty() ? 0.0 : buckets.front().at("tokens").get<double>();
      std::vector<std::pair<int64_t, double>> merged;
      for (const auto& b : buckets) {
        const auto start = b.at("start").get<int64_t>(), end = b.at("end").get<int64_t>();
        const auto tokens = b.at("tokens").get<int64_t>();
        // Ranges far out hold few documents: leave out buckets with under a tenth of the first's tokens.
        if (tokens > 0 && static_cast<double>(tokens) >= 0.1 * first) {
          series.points.emplace_back(0.5 * static_cast<double>(start + end), b.at("ppl").get<double>());
        }
        const int64_t width = buckets.front().at("end").get<int64_t>();
        size_t range = 0;
        while ((width << range) <= start) ++range;
        if (merged.size() <= range) merged.resize(range + 1);
        if (range_ends.size() <= range) range_ends.resize(range + 1);
        range_ends[range] = width << range;
        merged[range].first += tokens;
        merged[range].second += b.at("nll").get<double>();
      }
      plot.series.push_back(series);
      names.push_back(series.name);
      ranges.push_back(merged);
    }
    double low = 0, high = 0;
    for (const auto& series : plot.series) {
      for (const auto& point : series.points) {
        low = low == 0 ? point.second : std::min(low, point.second);
        high = std::max(high, point.second);
      }
    }
    plot.log_y = low > 0 && high / low > 10;  // models far apart: a log scale keeps every line readable
    const auto chart = "ppl_by_position_" + slug(corpus) + ".svg";
    files[chart] = svg::render(plot);
    md << "### " << corpus << "\n\n![perplexity by position](" << chart << ")\n\n| positions |";
    for (const auto& n : names) md << " " << n << " |";
    md << "\n|---|";
    for (size_t i = 0; i < names.size(); ++i) md << "---|";
    md << "\n";
    auto rows = json::array();
    for (size_t range = 0; range < range_ends.size(); ++range) {
      const int64_t begin = range == 0 ? 0 : range_ends[range - 1];
      md << "| " << human_length(begin) << "–" << human_length(range_ends[range]) << " |";
      json row = {{"start", begin}, {"end", range_ends[range]}, {"ppl", json::object()}};
      for (size_t s = 0; s < names.size(); ++s) {
        if (range < ranges[s].size() && ranges[s][range].first > 0) {
          const double ppl = std::exp(ranges[s][range].second / static_cast<double>(ranges[s][range].first));
          md << fmt::format(" {:.2f} |", ppl);
          row["ppl"][names[s]] = ppl;
        } else {
          md << " – |";
        }
      }
      md << "\n";
      rows.push_back(row);
    }
    md << "\n";
    positions[corpus] = rows;
  }
  summary["by_position"] = positions;
}

// Section 3: passkey accuracy in Table 3's layout.
void passkey_section(const ReportInputs& in, std::ostringstream& md, json& summary,
                     std::map<std::string, std::string>& files) {
  if (in.passkey.empty()) return;
  std::set<int64_t> lengths;
  std::set<double> depths;
  for (const auto& r : in.passkey) {
    for (const auto& c : r.at("accuracy")) {
      lengths.insert(c.at("length").get<int64_t>());
      depths.insert(c.at("depth").get<double>());
    }
  }
  std::string depth_names;
  for (const double d : depths) depth_names += (depth_names.empty() ? "" : "/") + depth_name(d);
  md << "## Passkey retrieval (laid out like the paper's Table 3)\n\nToken-level accuracy (%) per length; each cell "
     << depth_names << ".\n\n| model |";
  for (const auto l : lengths) md << " " << human_length(l) << " |";
  md << "\n|---|";
  for (size_t i = 0; i < lengths.size(); ++i) md << "---|";
  md << "\n";
  svg::LinePlot plot{"Passkey token accuracy", "prompt length (tokens)", "accuracy (%)", true, false, 0.0, 100.0, {}};
  auto table = json::array();
  for (const auto& r : in.passkey) {
    const auto name = label_of(r);
    std::map<std::pair<int64_t, double>, double> accuracy;
    for (const auto& c : r.at("accuracy")) {
      accuracy[{c.at("length").get<int64_t>(), c.at("depth").get<double>()}] = 100.0 * c.at("accuracy").get<double>();
    }
    md << "| " << name << " |";
    json row = {{"model", name}, {"cells", json::array()}};
    for (const auto l : lengths) {
      std::string cell;
      for (const double d : depths) {
        const auto found = accuracy.find({l, d});
        cell += (cell.empty() ? "" : "/") + (found == accuracy.end() ? std::string("–") : fmt::format("{:.0f}", found->second));
        if (found != accuracy.end()) row["cells"].push_back({{"length", l}, {"depth", d}, {"accuracy", found->second}});
      }
      md << " " << cell << " |";
    }
    md << "\n";
    for (const double d : depths) {
      svg::Series series{name + ", " + depth_name(d), {}, false};
      for (const auto l : lengths) {
        const auto found = accuracy.find({l, d});
        if (found != accuracy.end()) series.points.emplace_back(static_cast<double>(l), found->second);
      }
      plot.series.push_back(series);
    }
    table.push_back(row);
  }
  files["passkey.svg"] = svg::render(plot);
  md << "\n![passkey accuracy](passkey.svg)\n\n";
  summary["passkey"] = table;
}

// Section 4: one gate map per model.
void gates_section(const ReportInputs& in, std::ostringstream& md, json& summary,
                   std::map<std::string, std::string>& files) {
  std::vector<std::pair<std::string, json>> models;  // label → gates, first seen wins
  auto add = [&](const json& r) {
    if (!r.contains("gates") || r.at("gates").empty()) return;
    const auto label = label_of(r);
    for (const auto& m : models) {
      if (m.first == label) return;
    }
    models.emplace_back(label, r.at("gates"));
  };
  for (const auto& r : in.gates) add(r);
  for (const auto& r : in.ppl) add(r);
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
      map.rows.push_back("layer " + std::to_string(layer.at("layer").get<int64_t>()));
      map.values.push_back(layer.at("values").get<std::vector<double>>());
      for (const double v : map.values.back()) all_half = all_half && std::fabs(v - 0.5) < 0.05;
      md << fmt::format("| {} | {:.3f} | {} | {} | {} |\n", layer.at("layer").get<int64_t>(), layer.at("mean").get<double>(),
                        layer.at("memory_heads").get<int64_t>(), layer.at("local_heads").get<int64_t>(),
                        layer.at("mixer_heads").get<int64_t>());
    }
    const auto chart = "gates_" + slug(label) + ".svg";
    files[chart] = svg::render(map);
    md << "\n![gate map](" << chart << ")\n\n";
    if (all_half) {
      md << "**Warning:** every gate is within 0.05 of 0.5: the gates have not moved, the failure public ports hit "
            "(see the gate learning rate, `train.optimizer.gate_lr`).\n\n";
    }
    out[label] = {{"gates", gates}, {"all_near_half", all_half}};
  }
  summary["gates"] = out;
}

}  // namespace

std::string checkpoint_label(const std::string& path) {
  fs::path p(path);
  if (!p.has_filename()) p = p.parent_path();
  const auto name = p.filename().string();
  const bool run_link = name == "final" || name == "best" || name.rfind("step-", 0) == 0;
  if (!run_link) return name;
  // runs/NAME/final, or runs/NAME/checkpoints/step-N
  auto parent = p.parent_path();
  if (parent.filename() == "checkpoints") parent = parent.parent_path();
  return parent.filename().empty() ? name : parent.filename().string() + "/" + name;
}

ReportInputs read_report_inputs(const std::vector<std::string>& paths) {
  ReportInputs inputs;
  for (const auto& path : paths) {
    const json content = read_json_file(path);
    if (content.is_array() && content.empty()) throw InputError(path + ": an empty list of results");
    const auto items = content.is_array() ? content : json::array({content});
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& item = items[i];
      const auto kind = checked_result_kind(item, content.is_array() ? path + "[" + std::to_string(i) + "]" : path);
      (kind == "ppl" ? inputs.ppl : kind == "passkey" ? inputs.passkey : inputs.gates).push_back(item);
    }
  }
  // Short labels, unless two checkpoints would share one: those keep their whole paths.
  std::map<std::string, std::set<std::string>> by_label;  // label → checkpoints
  for (auto* list : {&inputs.ppl, &inputs.passkey, &inputs.gates}) {
    for (const auto& item : *list) {
      const auto checkpoint = item.at("checkpoint").get<std::string>();
      by_label[checkpoint_label(checkpoint)].insert(checkpoint);
    }
  }
  for (auto* list : {&inputs.ppl, &inputs.passkey, &inputs.gates}) {
    for (auto& item : *list) {
      const auto checkpoint = item.at("checkpoint").get<std::string>();
      const auto label = checkpoint_label(checkpoint);
      item["label"] = by_label[label].size() > 1 ? checkpoint : label;
    }
  }
  return inputs;
}

std::map<std::string, std::string> render_report(const ReportInputs& inputs) {
  std::map<std::string, std::string> files;
  std::ostringstream md;
  json summary = json::object();
  md << "# infini evaluation report\n\n";
  if (!inputs.ppl.empty()) {
    perplexity_tables(inputs, md, summary);
    position_section(inputs, md, summary, files);
  }
  passkey_section(inputs, md, summary, files);
  gates_section(inputs, md, summary, files);
  files["report.md"] = md.str();
  files["report.json"] = summary.dump(2) + "\n";
  return files;
}

}  // namespace infini
