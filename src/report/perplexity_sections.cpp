#include "report/sections.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "core/number_format.h"
#include "report/paired.h"
#include "report/svg.h"

namespace infini::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

}  // namespace

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
        "| model | compressive memory d·(d+1)·H·l | Transformer-XL (d+d)·H·N·l | full KV at L | "
        "state this model keeps (compression) | parameters | peak RSS | peak CUDA |\n|---|---|---|---|---|---|---|---|\n";
  auto footprints = json::array();
  std::set<std::string> seen;
  for (const auto& r : in.ppl) {
    if (!r.options.memory || !seen.insert(r.checkpoint).second) continue;
    const auto& f = r.footprint;
    auto bytes = [](int64_t value) { return bytes_text(static_cast<double>(value)); };
    // The same state and ratio as Table 2's memory column: xl keeps its cache, full its whole KV.
    md << fmt::format("| {} | {} | {} (N = {}) | {} (L = {}) | {} | {} | {} | {} |\n", row_name(in, r),
                      bytes(f.memory_state_bytes), bytes(f.transformer_xl_bytes), f.segment_length,
                      bytes(f.kv_cache_bytes_full_attention), f.length, state_size(r).text,
                      count_text(static_cast<double>(f.parameters)), bytes(f.peak_rss_bytes),
                      f.peak_device_bytes > 0 ? bytes(f.peak_device_bytes) : "–");
    footprints.push_back({{"model", row_name(in, r)}, {"state_bytes", state_size(r).bytes}, {"footprint", f.to_json()}});
  }
  md << "\n";
  summary["footprint"] = footprints;
}

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
      std::vector<std::pair<int64_t, double>> merged;
      for (const auto& b : buckets) {
        const auto start = b.start, end = b.end, tokens = b.tokens;
        // Every bucket with tokens is drawn; how many documents the far ones rest on is in the table.
        if (tokens > 0) series.points.emplace_back(0.5 * static_cast<double>(start + end), b.ppl());
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
    // Tokens and documents behind each range, from the corpus's first result (the others scored
    // the same documents unless their limits differ).
    const PerplexityResult& first = *by_corpus[corpus].front();
    auto documents_reaching = [&](int64_t position) {
      int64_t count = 0;
      for (const auto& d : first.documents) count += d.tokens > position;
      return count;
    };
    auto buckets = json::array();
    for (const auto& b : first.by_position) {
      buckets.push_back({{"start", b.start}, {"end", b.end}, {"tokens", b.tokens}, {"documents", documents_reaching(b.start)}});
    }
    md << "### " << corpus << "\n\n![perplexity by position](" << chart << ")\n\nEvery bucket of "
       << length_text(first.by_position.empty() ? 0 : first.by_position.front().end)
       << " tokens with tokens in it is drawn; the far ones rest on few documents (counts below).\n\n"
          "| positions | tokens | documents |";
    for (const auto& n : names) md << " " << n << " |";
    md << "\n|---|---|---|";
    for (size_t i = 0; i < names.size(); ++i) md << "---|";
    md << "\n";
    auto rows = json::array();
    for (size_t range = 0; range < range_ends.size(); ++range) {
      const int64_t begin = range == 0 ? 0 : range_ends[range - 1];
      const auto& first_ranges = ranges.front();
      const int64_t tokens = range < first_ranges.size() ? first_ranges[range].first : 0;
      md << "| " << length_text(begin) << "–" << length_text(range_ends[range]) << " | " << count_text(static_cast<double>(tokens))
         << " | " << documents_reaching(begin) << " |";
      json row = {{"start", begin},
                  {"end", range_ends[range]},
                  {"tokens", tokens},
                  {"documents", documents_reaching(begin)},
                  {"ppl", json::object()}};
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
    positions[corpus] = {{"ranges", rows}, {"buckets", buckets}};
  }
  summary["by_position"] = positions;
}

void comparison_section(const ReportInputs& in, std::ostringstream& md, json& summary) {
  struct Comparison {
    std::string corpus, candidate, baseline;
    PairedComparison paired;
  };
  std::vector<Comparison> found;
  auto compare = [&](const PerplexityResult& baseline, const PerplexityResult& candidate) {
    if (const auto paired = compare_paired(baseline.documents, candidate.documents)) {
      found.push_back({corpus_of(candidate), row_name(in, candidate), row_name(in, baseline), *paired});
    }
  };
  // Memory against reset for each checkpoint first, then model against model.
  for (const bool ablation : {true, false}) {
    for (size_t i = 0; i < in.ppl.size(); ++i) {
      for (size_t j = 0; j < in.ppl.size(); ++j) {
        const auto &a = in.ppl[i], &b = in.ppl[j];
        if (i == j || corpus_of(a) != corpus_of(b)) continue;
        const bool same = a.checkpoint == b.checkpoint && a.options.segment_length == b.options.segment_length;
        if (ablation && same && !a.options.memory && b.options.memory) compare(a, b);
        if (!ablation && !same && a.options.memory && b.options.memory && i < j) compare(a, b);
      }
    }
  }
  if (found.empty()) return;
  md << "## Paired comparisons (the same documents)\n\nPerplexity ratio candidate / baseline over the documents "
        "both scored, how many documents the candidate improved, and a 95% bootstrap interval of the ratio "
        "(2000 resamples of the documents). A ratio below 1 favours the candidate; an interval that excludes 1 "
        "is a difference the documents support.\n\n"
        "| corpus | candidate | baseline | documents improved | ppl ratio | 95% interval |\n|---|---|---|---|---|---|\n";
  auto out = json::array();
  for (const auto& c : found) {
    const auto& p = c.paired;
    md << fmt::format("| {} | {} | {} | {} of {} | {:.4f} | {:.4f}–{:.4f} |\n", c.corpus, c.candidate, c.baseline,
                      p.improved, p.documents, p.ratio, p.low, p.high);
    out.push_back({{"corpus", c.corpus},
                   {"candidate", c.candidate},
                   {"baseline", c.baseline},
                   {"documents", p.documents},
                   {"improved", p.improved},
                   {"ratio", p.ratio},
                   {"low", p.low},
                   {"high", p.high}});
  }
  md << "\n";
  summary["comparisons"] = out;
}

}  // namespace infini::report
