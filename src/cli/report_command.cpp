// `infini report RESULT.json... --out DIR`: Markdown, JSON and SVG from evaluation results
// (report/report.h). DIR is replaced as a whole, and only when it holds an earlier report.
#include <filesystem>

#include "cli/commands.h"
#include "core/errors.h"
#include "core/staged_directory.h"
#include "report/report.h"

namespace infini::cli {

namespace {

struct ReportFlags {
  std::vector<std::string> results;
  std::string out;
};

void run_report(const ReportFlags& flags) {
  namespace fs = std::filesystem;
  if (fs::exists(flags.out) && !(fs::is_directory(flags.out) && (fs::is_empty(flags.out) || fs::exists(flags.out + "/report.md")))) {
    throw InputError(flags.out + ": exists and is not an earlier report; choose another --out");
  }
  const auto files = render_report(read_report_inputs(flags.results));
  StagedDirectory writer(flags.out);
  for (const auto& [name, text] : files) writer.write_text(name, text);
  writer.commit();
  spdlog::info("wrote {}/report.md and {} other files", flags.out, files.size() - 1);
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  auto* report = app.add_subcommand("report", "Markdown + JSON + SVG report from eval ppl / passkey / gates results");
  report->add_option("results", flags->results, "Result JSON files")->required();
  report->add_option("--out", flags->out, "Report directory (replaced when it holds an earlier report)")->required();
  report->callback([flags] { run_report(*flags); });
}

}  // namespace infini::cli
