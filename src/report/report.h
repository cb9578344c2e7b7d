// `infini report`: the results of `eval ppl`, `eval passkey` and `eval gates`, and training runs'
// metrics.jsonl, side by side, as a Markdown report, a JSON summary and SVG charts (report/svg.h):
//   1. perplexity laid out like the paper's Table 2 (model, memory size and compression ratio,
//      segment length, perplexity and bits/byte per corpus), and the memory footprint by the
//      Table 1 formulas beside the measured peaks;
//   2. perplexity against position in the document, each model with and without memory;
//   3. paired per-document comparisons with bootstrap confidence intervals;
//   4. passkey accuracy laid out like Table 3 (lengths across, start/middle/end in each cell);
//   5. the gate map per model (Figure 3), flagging gates that never left 0.5;
//   6. training curves: loss, learning rate and every head's gate against tokens seen;
//   7. provenance: what produced each result.
// The sections live in report/sections.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/gates.h"
#include "eval/passkey_eval.h"
#include "eval/perplexity.h"
#include "report/training_curves.h"

namespace infini {

struct ReportInputs {
  std::vector<PerplexityResult> ppl;
  std::vector<PasskeyResult> passkey;
  std::vector<GatesResult> gates;
  std::vector<TrainingRun> training;
  std::map<std::string, std::string> labels;  // checkpoint → its name in the report

  std::string label(const std::string& checkpoint) const;
};

// Reads result files (one result object or an array of them each) through the result structs'
// from_json, and training logs (a metrics.jsonl, or a run directory holding one); InputError
// naming the file (and key or line) when one is unreadable, of an unknown kind or schema, or
// lacks a key.
ReportInputs read_report_inputs(const std::vector<std::string>& paths);

// File name → contents: report.md, report.json and the SVG charts it links.
std::map<std::string, std::string> render_report(const ReportInputs& inputs);

// A short name for a checkpoint path: its last component, with the run's name before a
// `final`, `best` or `step-N` ("runs/books-small/final" → "books-small/final").
std::string checkpoint_label(const std::string& path);

}  // namespace infini
