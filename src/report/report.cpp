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
#include "core/number_format.h"
#include "eval/result_header.h"
#include "report/svg.h"

namespace infini {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

ModelConfig model_of(const PerplexityResult& result) { return model_config_from_json(result.model, result.checkpoint); }

std::string attention_of(const PerplexityResult& result) {
  const auto model = model_of(result);
  std::string kind = attention_kind_name(model.attention.kind);
  if (model.attention.kind == AttentionKind::Infini) {
    kind += " (" + choice_name(kMemoryUpdateNames, model.attention.memory_update) + ")";
  }
  return kind;
}

// The row's long-context state: the compressive memory, the XL cache or the whole KV cache.
struct StateSize {
  double bytes = 0, ratio = 0;
  std::string text;
};

StateSize state_size(const PerplexityResult& result) {
  const auto& f = result.footprint;
  const auto kind = model_of(result).attention.kind;
  const auto kv = static_cast<double>(f.kv_cache_bytes_full_attention);
  StateSize size;
  if (f.memory_state_bytes > 0) {
    size.bytes = static_cast<double>(f.memory_state_bytes);
  } else if (kind == AttentionKind::Xl) {
    size.bytes = static_cast<double>(f.transformer_xl_bytes);
  } else if (kind == AttentionKind::Full) {
    size.bytes = kv;
  }
  if (size.bytes <= 0) return {0, 0, "none"};
  size.ratio = kv / size.bytes;
  size.text = fmt::format("{} ({:.1f}×)", bytes_text(size.bytes), size.ratio);
  return size;
}

// The checkpoint, and how it was run when not as trained: "books-small/final (segment 512) without memory".
std::string row_name(const ReportInputs& in, const PerplexityResult& result) {
  std::string name = in.label(result.checkpoint);
  const auto segment = result.options.segment_length;
  if (segment != model_of(result).attention.segment_length) name += " (segment " + std::to_string(segment) + ")";
  return name + (result.options.memory ? "" : " without memory");
}

std::string corpus_of(const PerplexityResult& result) { return corpus_label(result.data.empty() ? "documents" : result.data); }

// Section 1: Table 2 and the footprint table.
void perplexity_tables(const ReportInputs& in, std::ostringstream& md, json& summary) {
  std::vector<std::string> corpora, rows;
  std::map<std::string, std::map<std::string, const PerplexityResult*>> cells;  // row → corpus → result
  for (const auto& r : in.ppl) {
    const auto corpus = corpus_of(r);
    const auto row = row_name(in, r);
    if (std::find(corpora.begin(), corpora.end(), corpus) == corpora.end()) corpora.push_back(corpus);
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    cells[row][corpus] = &r;
  }
  md << "## Perplexity (laid out like the paper's Table 2)\n\n| model | attention | memory size (compression) | segment |";
  for (const auto& c : corpora) md << " " << c << " ppl | " << c << " bits/byte |";
  md << "\n|---|---|---|---|";
  for (size_t i = 0; i < corpora.size(); ++i) md << "---|---|";
  md << "\n";
  auto table = json::array();
  for (const auto& row : rows) {
    const PerplexityResult& any = *cells[row].begin()->second;
    const auto size = state_size(any);
    json entry = {{"model", row},
                  {"checkpoint", any.checkpoint},
                  {"attention", attention_of(any)},
                  {"memory", any.options.memory},
                  {"segment_length", any.options.segment_length},
                  {"state_bytes", size.bytes},
                  {"compression_ratio", size.ratio},
                  {"corpora", json::object()}};
    md << "| " << row << " | " << attention_of(any) << " | " << (any.options.memory ? size.text : "reset every segment")
       << " | " << any.options.segment_length << " |";
    for (const auto& c : corpora) {
      const auto found = cells[row].find(c);
      if (found == cells[row].end()) {
        md << " – | – |";
        continue;
      }
      const auto total = found->second->total();
      md << fmt::format(" {:.2f} | {:.3f} |", total.ppl(), total.bits_per_byte());
      entry["corpora"][c] = {{"ppl", total.ppl()},
                             {"bits_per_byte", total.bits_per_byte()},
                             {"tokens", total.tokens},
                             {"documents", total.documents}};
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
    if (!r.options.memory || !seen.insert(r.checkpoint).second) continue;
    const auto& f = r.footprint;
    auto bytes = [](int64_t value) { return bytes_text(static_cast<double>(value)); };
    md << fmt::format("| {} | {} | {} (N = {}) | {} (L = {}) | {:.1f}× | {} | {} | {} |\n", row_name(in, r),
                      bytes(f.memory_state_bytes), bytes(f.transformer_xl_bytes), f.segment_length,
                      bytes(f.kv_cache_bytes_full_attention), f.length, f.compression_ratio(),
                      count_text(static_cast<double>(f.parameters)), bytes(f.peak_rss_bytes),
                      f.peak_device_bytes > 0 ? bytes(f.peak_device_bytes) : "–");
    footprints.push_back({{"model", row_name(in, r)}, {"footprint", f.to_json()}});
  }
  md << "\n";
  summary["footprint"] = footprints;
}

// Section 2: perplexity against position, per corpus, in doubling ranges and as a chart.
void position_section(const ReportInputs& in, std::ostringstream& md, json& summary,
                      std::map<std::string, std::string>& files) {
  std::map<std::string, std::vector<const PerplexityResult*>> by_corpus;
  std::vector<std::string> order;
  for (const auto& r : in.ppl) {
    const auto corpus = corpus_of(r);
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
    for (const PerplexityResult* r : by_corpus[corpus]) {
      svg::Series series{row_name(in, *r), {}, !r->options.memory};
      const auto& buckets = r->by_position;
      const double first = buckets.empty() ? 0.0 : static_cast<double>(buckets.front().tokens);
      std::vector<std::pair<int64_t, double>> merged;
      for (const auto& b : buckets) {
        const auto start = b.start, end = b.end, tokens = b.tokens;
        // Ranges far out hold few documents: leave out buckets with under a tenth of the first's tokens.
        if (tokens > 0 && static_cast<double>(tokens) >= 0.1 * first) {
          series.points.emplace_back(0.5 * static_cast<double>(start + end), b.ppl());
        }
        const int64_t width = buckets.front().end;
        size_t range = 0;
        while ((width << range) <= start) ++range;
        if (merged.size() <= range) merged.resize(range + 1);
        if (range_ends.size() <= range) range_ends.resize(range + 1);
        range_ends[range] = width << range;
        merged[range].first += tokens;
        merged[range].second += b.nll;
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
      md << "| " << length_text(begin) << "–" << length_text(range_ends[range]) << " |";
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
    for (const auto& c : r.cells()) {
      lengths.insert(c.length);
      depths.insert(c.depth);
    }
  }
  std::string depth_names;
  for (const double d : depths) depth_names += (depth_names.empty() ? "" : "/") + depth_name(d);
  md << "## Passkey retrieval (laid out like the paper's Table 3)\n\nToken-level accuracy (%) per length; each cell "
     << depth_names << ".\n\n| model |";
  for (const auto l : lengths) md << " " << length_text(l) << " |";
  md << "\n|---|";
  for (size_t i = 0; i < lengths.size(); ++i) md << "---|";
  md << "\n";
  svg::LinePlot plot{"Passkey token accuracy", "prompt length (tokens)", "accuracy (%)", true, false, 0.0, 100.0, {}};
  auto table = json::array();
  for (const auto& r : in.passkey) {
    const auto name = in.label(r.checkpoint);
    std::map<std::pair<int64_t, double>, double> accuracy;
    for (const auto& c : r.cells()) accuracy[{c.length, c.depth}] = 100.0 * c.accuracy;
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

std::string ReportInputs::label(const std::string& checkpoint) const {
  const auto found = labels.find(checkpoint);
  return found != labels.end() ? found->second : checkpoint_label(checkpoint);
}

ReportInputs read_report_inputs(const std::vector<std::string>& paths) {
  ReportInputs inputs;
  std::vector<std::string> checkpoints;
  for (const auto& path : paths) {
    const json content = read_json_file(path);
    if (content.is_array() && content.empty()) throw InputError(path + ": an empty list of results");
    const auto items = content.is_array() ? content : json::array({content});
    for (size_t i = 0; i < items.size(); ++i) {
      const auto where = content.is_array() ? path + "[" + std::to_string(i) + "]" : path;
      const auto kind = result_kind(items[i], where);
      if (kind == "ppl") {
        inputs.ppl.push_back(PerplexityResult::from_json(items[i], where));
        checkpoints.push_back(inputs.ppl.back().checkpoint);
      } else if (kind == "passkey") {
        inputs.passkey.push_back(PasskeyResult::from_json(items[i], where));
        checkpoints.push_back(inputs.passkey.back().checkpoint);
      } else {
        inputs.gates.push_back(GatesResult::from_json(items[i], where));
        checkpoints.push_back(inputs.gates.back().checkpoint);
      }
    }
  }
  // Short labels, unless two checkpoints would share one: those keep their whole paths.
  std::map<std::string, std::set<std::string>> by_label;  // label → checkpoints
  for (const auto& checkpoint : checkpoints) by_label[checkpoint_label(checkpoint)].insert(checkpoint);
  for (const auto& checkpoint : checkpoints) {
    const auto label = checkpoint_label(checkpoint);
    inputs.labels[checkpoint] = by_label[label].size() > 1 ? checkpoint : label;
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
