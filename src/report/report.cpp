#include "report/report.h"

#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/files.h"
#include "eval/result_header.h"
#include "report/sections.h"

namespace infini {

namespace fs = std::filesystem;
using nlohmann::json;

std::string report::slug(const std::string& text) {
  std::string out;
  for (const char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

void report::provenance_section(const ReportInputs& in, std::ostringstream& md, json& summary) {
  struct Row {
    std::string result;
    const Provenance* provenance;
  };
  std::vector<Row> rows;
  for (const auto& r : in.ppl) {
    rows.push_back({"ppl " + in.label(r.checkpoint) + (r.options.memory ? "" : " without memory"), &r.provenance});
  }
  for (const auto& r : in.passkey) rows.push_back({"passkey " + in.label(r.checkpoint), &r.provenance});
  for (const auto& r : in.gates) rows.push_back({"gates " + in.label(r.checkpoint), &r.provenance});
  if (rows.empty()) return;
  md << "## Provenance\n\n| result | checkpoint step | data fingerprint | program | date | command |\n"
        "|---|---|---|---|---|---|\n";
  auto out = json::array();
  bool unrecorded = false;
  for (const auto& [result, p] : rows) {
    unrecorded = unrecorded || p->date.empty();
    auto or_dash = [](const std::string& text) { return text.empty() ? std::string("–") : text; };
    md << fmt::format("| {} | {} | {} | {} | {} | {} |\n", result,
                      p->checkpoint_step >= 0 ? std::to_string(p->checkpoint_step) : "–", or_dash(p->data_fingerprint),
                      or_dash(p->program), or_dash(p->date), p->command.empty() ? "–" : "`" + p->command + "`");
    out.push_back({{"result", result},
                   {"checkpoint_step", p->checkpoint_step},
                   {"data_fingerprint", p->data_fingerprint},
                   {"program", p->program},
                   {"date", p->date},
                   {"command", p->command}});
  }
  md << (unrecorded ? "\nResults written before provenance was recorded show –.\n\n" : "\n");
  summary["provenance"] = out;
}

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
    if (is_training_log(path)) {
      inputs.training.push_back(read_training_run(path));
      continue;
    }
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
    report::perplexity_tables(inputs, md, summary);
    report::position_section(inputs, md, summary, files);
    report::comparison_section(inputs, md, summary);
  }
  report::passkey_section(inputs, md, summary, files);
  report::gates_section(inputs, md, summary, files);
  training_section(inputs.training, md, summary, files);
  report::provenance_section(inputs, md, summary);
  files["report.md"] = md.str();
  files["report.json"] = summary.dump(2) + "\n";
  return files;
}

}  // namespace infini
