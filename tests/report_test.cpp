// `infini report` from fixture results: the tables carry the inputs' numbers in the paper's
// layouts, the charts have one line per series inside the canvas, and the output directory is
// only ever replaced by a newer report.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/errors.h"
#include "eval/result_header.h"
#include "report/paired.h"
#include "report/report.h"
#include "report/svg.h"
#include "test_support.h"

using namespace infini;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) { return std::string(INFINI_SOURCE_DIR) + "/tests/fixtures/report/" + name; }

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The points of every polyline, each inside the canvas of the width and height the svg declares.
std::vector<size_t> polyline_points(const std::string& svg) {
  std::smatch size;
  EXPECT_TRUE(std::regex_search(svg, size, std::regex(R"re(<svg [^>]*width="([0-9.]+)" height="([0-9.]+)")re")));
  const double width = std::stod(size[1].str()), height = std::stod(size[2].str());
  std::vector<size_t> out;
  const std::regex polyline(R"(points="([^"]*)\")");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline); it != std::sregex_iterator(); ++it) {
    std::istringstream points((*it)[1].str());
    size_t n = 0;
    for (std::string pair; points >> pair; ++n) {
      const auto comma = pair.find(',');
      const double x = std::stod(pair.substr(0, comma)), y = std::stod(pair.substr(comma + 1));
      EXPECT_TRUE(x >= 0 && x <= width && y >= 0 && y <= height) << pair;
    }
    out.push_back(n);
  }
  return out;
}

}  // namespace

TEST(Report, RendersThePapersLayoutsFromFixtures) {
  const auto files = render_report(read_report_inputs({fixture("ppl.json"), fixture("passkey.json"), fixture("gates.json")}));
  const auto& md = files.at("report.md");
  const auto summary = json::parse(files.at("report.json"));

  // Table 2: the infini model with memory, without, and the xl model; both corpora as columns.
  EXPECT_NE(md.find("| model | attention | memory size (compression) | segment | books/test ppl | books/test bits/byte | "
                    "math/test ppl | math/test bits/byte |"),
            std::string::npos)
      << md;
  const double books = std::exp(1490.0 / 400), math = std::exp(390.0 / 200);
  const double books_bpb = 1490.0 / (std::log(2.0) * 1600), math_bpb = 390.0 / (std::log(2.0) * 800);
  EXPECT_NE(md.find(fmt::format("| books-small/final | infini (linear) | 4.2 KiB (23.5×) | 64 | {:.2f} | {:.3f} | {:.2f} | {:.3f} |",
                                books, books_bpb, math, math_bpb)),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| books-small/final without memory | infini (linear) | reset every segment | 64 |"), std::string::npos);
  EXPECT_NE(md.find(fmt::format("| xl-small/final | xl | 16.0 KiB (6.2×) | 64 | {:.2f} |", std::exp(1588.0 / 400))),
            std::string::npos)
      << md;
  ASSERT_EQ(summary["table"].size(), 3u);
  EXPECT_DOUBLE_EQ(summary["table"][0]["corpora"]["books/test"]["ppl"].get<double>(), books);
  EXPECT_FALSE(summary["table"][2]["corpora"].contains("math/test"));

  // Footprint, once per checkpoint (not for the ablation run); the state each model keeps is
  // Table 2's: xl its 16 KiB cache, not 0 B.
  EXPECT_NE(md.find("| books-small/final | 4.2 KiB | 16.0 KiB (N = 64) | 100.0 KiB (L = 400) | 4.2 KiB (23.5×) | 120.0K | "
                    "300.0 MiB | – |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| xl-small/final | 0 B | 16.0 KiB (N = 64) | 100.0 KiB (L = 400) | 16.0 KiB (6.2×) |"),
            std::string::npos)
      << md;
  EXPECT_EQ(summary["footprint"].size(), 2u);
  EXPECT_EQ(summary["footprint"][1]["state_bytes"], summary["table"][2]["state_bytes"]);

  // Perplexity by position in doubling ranges: [0,100) [100,200) [200,400).
  const auto& ranges = summary["by_position"]["books/test"]["ranges"];
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[2]["tokens"], 200);
  EXPECT_EQ(ranges[2]["documents"], 1);
  EXPECT_NE(md.find("| 200–400 | 200 | 1 | 34.81 | 46.53 | 50.15 |"), std::string::npos) << md;
  EXPECT_EQ(summary["by_position"]["books/test"]["buckets"].size(), 4u);
  EXPECT_EQ(ranges[2]["start"], 200);
  EXPECT_EQ(ranges[2]["end"], 400);
  EXPECT_NEAR(ranges[2]["ppl"]["books-small/final"].get<double>(), std::exp(710.0 / 200), 1e-9);
  EXPECT_NEAR(ranges[2]["ppl"]["books-small/final without memory"].get<double>(), std::exp(768.0 / 200), 1e-9);
  const auto& chart = files.at("ppl_by_position_books-test.svg");
  EXPECT_EQ(chart.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(chart.find("</svg>"), std::string::npos);
  EXPECT_EQ(polyline_points(chart), (std::vector<size_t>{4, 4, 4}));
  EXPECT_EQ(count(chart, "<circle"), 12u);  // a marker on every point
  EXPECT_EQ(count(chart, "stroke-dasharray"), 2u);  // the ablation's line and its legend entry
  EXPECT_EQ(polyline_points(files.at("ppl_by_position_math-test.svg")), (std::vector<size_t>{2}));

  // Table 3: lengths across, start/middle/end per cell.
  EXPECT_NE(md.find("| model | 1K | 4K |"), std::string::npos) << md;
  EXPECT_NE(md.find("**Token accuracy (%)**\n\n| model | 1K | 4K |\n|---|---|---|\n| passkey-ft/final | 100/80/100 | 60/40/100 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("**Exact match (%)**\n\n| model | 1K | 4K |\n|---|---|---|\n| passkey-ft/final | 100/0/100 | 0/0/100 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("2 keys per length and depth"), std::string::npos) << md;
  EXPECT_EQ(summary["passkey"][0]["cells"][1]["keys"], 2);
  EXPECT_EQ(polyline_points(files.at("passkey.svg")), (std::vector<size_t>{2, 2, 2}));
  EXPECT_EQ(count(files.at("passkey.svg"), "<circle"), 6u);

  // Gate maps: one per model; the stuck one is flagged, the trained one is not.
  const auto& gates = files.at("gates_books-small-final.svg");
  EXPECT_EQ(count(gates, "stroke=\"#999\""), 8u);  // 2 layers × 4 heads
  EXPECT_EQ(count(gates, "fill=\"url(#bar)\""), 1u);  // the colour bar
  EXPECT_NE(gates.find(">0.95<"), std::string::npos);
  EXPECT_NE(gates.find("rgb(185,47,64)"), std::string::npos);  // 0.95: near the memory red
  EXPECT_NE(md.find("| 0 | 0.525 | 1 | 1 | 2 |"), std::string::npos) << md;
  EXPECT_TRUE(files.count("gates_stuck-final.svg"));
  EXPECT_EQ(count(md, "**Warning:**"), 1u);
  EXPECT_TRUE(summary["gates"]["stuck/final"]["all_near_half"].get<bool>());
  EXPECT_FALSE(summary["gates"]["books-small/final"]["all_near_half"].get<bool>());
}

TEST(Report, NamesASegmentLengthOtherThanTheTrainingOne) {
  auto inputs = read_report_inputs({fixture("ppl.json")});
  inputs.ppl[0].options.segment_length = 128;  // trained at 64: length generalisation
  const auto md = render_report(inputs).at("report.md");
  EXPECT_NE(md.find("| books-small/final (segment 128) | infini (linear) | 4.2 KiB (23.5×) | 128 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| books-small/final | infini (linear) | 4.2 KiB (23.5×) | 64 |"), std::string::npos) << md;
}

TEST(Report, CheckpointsWithTheSameShortNameKeepTheirPaths) {
  test::TempDir dir;
  auto results = json::parse(test::read_text(fixture("ppl.json")));
  results[2]["checkpoint"] = "elsewhere/books-small/final";  // the xl model, under the same short name
  test::write_text(dir / "clash.json", results.dump());
  const auto md = render_report(read_report_inputs({dir / "clash.json"})).at("report.md");
  EXPECT_NE(md.find("| runs/books-small/final | infini (linear) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| elsewhere/books-small/final | xl |"), std::string::npos) << md;
}

TEST(Report, RejectsUnknownInput) {
  test::TempDir dir;
  test::write_text(dir / "bad.json", "{\"kind\": \"weather\"}");
  EXPECT_THROW(read_report_inputs({dir / "bad.json"}), InputError);
  test::write_text(dir / "broken.json", "{");
  EXPECT_THROW(read_report_inputs({dir / "broken.json"}), InputError);
  test::write_text(dir / "partial.json", "{\"kind\": \"ppl\", \"checkpoint\": \"x\"}");
  EXPECT_THROW(read_report_inputs({dir / "partial.json"}), InputError);
}

TEST(Report, CommandReplacesOnlyAnEarlierReport) {
  test::TempDir dir;
  const auto inputs = fixture("ppl.json") + " " + fixture("passkey.json");
  auto first = test::run_infini("report " + inputs + " --out " + (dir / "report"));
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(test::read_text(dir / "report/report.md").find("Passkey retrieval"), std::string::npos);
  auto again = test::run_infini("report " + fixture("ppl.json") + " --out " + (dir / "report"));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(test::read_text(dir / "report/report.md").find("Passkey retrieval"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "report/passkey.svg"));

  std::filesystem::create_directory(dir / "mine");
  test::write_text(dir / "mine/notes.txt", "keep");
  auto refused = test::run_infini("report " + inputs + " --out " + (dir / "mine"));
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("not an earlier report"), std::string::npos) << refused.output;
  EXPECT_EQ(test::read_text(dir / "mine/notes.txt"), "keep");
  auto missing = test::run_infini("report " + (dir / "nothing.json") + " --out " + (dir / "r2"));
  EXPECT_EQ(missing.status, 2) << missing.output;
  EXPECT_NE(missing.output.find("nothing.json"), std::string::npos) << missing.output;
}

TEST(Report, CheckpointLabels) {
  EXPECT_EQ(checkpoint_label("runs/books-small/final"), "books-small/final");
  EXPECT_EQ(checkpoint_label("runs/books-small/final/"), "books-small/final");
  EXPECT_EQ(checkpoint_label("runs/x/checkpoints/step-00000300"), "x/step-00000300");
  EXPECT_EQ(checkpoint_label("/tmp/models/llama-infini"), "llama-infini");
  EXPECT_EQ(checkpoint_label("best"), "best");
}

TEST(Svg, NiceTicksAndEscaping) {
  EXPECT_EQ(svg::nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(svg::nice_ticks(3.2, 4.1, 4), (std::vector<double>{3.5, 4.0}));
  EXPECT_EQ(svg::nice_ticks(0.1, 0.7, 6).size(), 7u);
  EXPECT_EQ(svg::escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
}

TEST(Report, ResultsRoundTripThroughTheirSchema) {
  // What eval writes, report reads back whole: to_json ∘ from_json is the identity on each result.
  const auto ppl = json::parse(test::read_text(fixture("ppl.json")));
  for (const auto& item : ppl) {
    const auto once = PerplexityResult::from_json(item, "ppl.json").to_json();
    EXPECT_EQ(PerplexityResult::from_json(once, "again").to_json(), once);
    EXPECT_EQ(once["schema"], kResultSchema);
  }
  const auto passkey = PasskeyResult::from_json(json::parse(test::read_text(fixture("passkey.json"))), "passkey.json");
  EXPECT_EQ(PasskeyResult::from_json(passkey.to_json(), "again").to_json(), passkey.to_json());
  EXPECT_EQ(passkey.cells().size(), 6u);
  EXPECT_DOUBLE_EQ(passkey.cells()[1].accuracy, 0.8);  // 1K, middle: 4 of 5 answer tokens in each of two keys,
  EXPECT_DOUBLE_EQ(passkey.cells()[1].exact, 0.0);     // so no key whole
  const auto gates = GatesResult::from_json(json::parse(test::read_text(fixture("gates.json"))), "gates.json");
  EXPECT_EQ(GatesResult::from_json(gates.to_json(), "again").to_json(), gates.to_json());

  // A renamed key fails loudly, naming the file and the key, instead of reading 0.
  auto renamed = ppl[0];
  renamed["footprint"]["memory_bytes"] = renamed["footprint"]["memory_state_bytes"];
  renamed["footprint"].erase("memory_state_bytes");
  try {
    PerplexityResult::from_json(renamed, "ppl.json[0]");
    FAIL() << "a renamed key was read";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("ppl.json[0]: footprint"), std::string::npos) << message;
    EXPECT_NE(message.find("'memory_state_bytes'"), std::string::npos) << message;
  }
  auto newer = ppl[0];
  newer["schema"] = kResultSchema + 1;
  EXPECT_THROW(PerplexityResult::from_json(newer, "ppl.json[0]"), InputError);
}

TEST(Report, PairedComparisonInClosedForm) {
  // Every document's loss lower by 0.1 nats per token: the pooled ratio is exp(-0.1) and so is
  // every bootstrap resample's; every document improved.
  std::vector<DocumentScore> baseline, shifted, mixed;
  for (int i = 0; i < 20; ++i) {
    const int64_t tokens = 100 + 37 * i;
    const double nll = (3.0 + 0.05 * i) * static_cast<double>(tokens);
    baseline.push_back({"d" + std::to_string(i), tokens, 4 * tokens, nll});
    shifted.push_back({"d" + std::to_string(i), tokens, 4 * tokens, nll - 0.1 * static_cast<double>(tokens)});
    // Half the documents better by 0.2 nats per token, half worse by 0.2.
    mixed.push_back({"d" + std::to_string(i), tokens, 4 * tokens, nll + (i % 2 ? 0.2 : -0.2) * static_cast<double>(tokens)});
  }
  shifted.push_back({"only-here", 50, 200, 1.0});  // unmatched: ignored
  const auto same = compare_paired(baseline, shifted);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->documents, 20);
  EXPECT_EQ(same->improved, 20);
  EXPECT_NEAR(same->ratio, std::exp(-0.1), 1e-12);
  EXPECT_NEAR(same->low, std::exp(-0.1), 1e-12);
  EXPECT_NEAR(same->high, std::exp(-0.1), 1e-12);
  // Mixed effects: half improved, the interval straddles the pooled ratio and is wide.
  const auto split = compare_paired(baseline, mixed);
  EXPECT_EQ(split->improved, 10);
  EXPECT_LT(split->low, split->ratio);
  EXPECT_GT(split->high, split->ratio);
  EXPECT_LT(split->low, 1.0);
  EXPECT_GT(split->high, 1.0);
  EXPECT_GT(split->high / split->low, std::exp(0.1));
  EXPECT_FALSE(compare_paired(baseline, {{"elsewhere", 10, 40, 5.0}}).has_value());
}

TEST(Report, ComparesResultsOnTheSameDocuments) {
  const auto files = render_report(read_report_inputs({fixture("ppl.json")}));
  const auto& md = files.at("report.md");
  const auto summary = json::parse(files.at("report.json"));
  // Memory against its own reset, and model against model, on books/test (one document there).
  const double memory_vs_reset = std::exp(1490.0 / 400 - 1558.0 / 400);
  EXPECT_NE(md.find(fmt::format("| books/test | books-small/final | books-small/final without memory | 1 of 1 | {:.4f} | "
                                "{:.4f}–{:.4f} |",
                                memory_vs_reset, memory_vs_reset, memory_vs_reset)),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| books/test | xl-small/final | books-small/final | 0 of 1 |"), std::string::npos) << md;
  ASSERT_EQ(summary["comparisons"].size(), 2u);
  EXPECT_NEAR(summary["comparisons"][0]["ratio"].get<double>(), memory_vs_reset, 1e-12);
}

TEST(Report, DrawsTrainingCurvesFromMetrics) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "runs/demo");
  std::string log;
  for (int step = 10; step <= 50; step += 10) {
    const double g = 0.5 + 0.008 * step;
    log += json({{"step", step}, {"phase", "train"}, {"loss", 6.0 - 0.05 * step}, {"lr", 1e-3}, {"tokens_seen", 100 * step},
                 {"gates", {{"layer0", {{"mean", g}, {"heads", {g, 1 - g}}}}, {"layer1", {{"mean", 0.5}}}}}})
               .dump() +
           "\n";
    if (step % 20 == 0) {
      log += json({{"step", step}, {"phase", "validation"}, {"loss", 5.5 - 0.01 * step}, {"tokens_seen", 100 * step}}).dump() + "\n";
    }
  }
  // A resumed run logs step 50 again: the last record counts.
  log += json({{"step", 50}, {"phase", "train"}, {"loss", 3.25}, {"lr", 1e-3}, {"tokens_seen", 5000}}).dump() + "\n";
  test::write_text(dir / "runs/demo/metrics.jsonl", log);
  const auto inputs = read_report_inputs({fixture("gates.json"), dir / "runs/demo"});
  ASSERT_EQ(inputs.training.size(), 1u);
  EXPECT_EQ(inputs.training[0].train.size(), 5u);
  EXPECT_EQ(inputs.training[0].validation.size(), 2u);
  const auto files = render_report(inputs);
  const auto& md = files.at("report.md");
  EXPECT_NE(md.find("| demo | 50 | 5.0K | 3.2500 | 5.1000 (40) |"), std::string::npos) << md;
  EXPECT_EQ(polyline_points(files.at("training_loss_demo.svg")), (std::vector<size_t>{5, 2}));
  EXPECT_EQ(polyline_points(files.at("training_lr_demo.svg")), (std::vector<size_t>{5}));
  // Per head where the log has heads (the resumed step-50 record has no gates), the mean otherwise.
  EXPECT_EQ(polyline_points(files.at("training_gates_demo_layer0.svg")), (std::vector<size_t>{4, 4}));
  EXPECT_NE(files.at("training_gates_demo_layer0.svg").find(">head 1<"), std::string::npos);
  EXPECT_EQ(polyline_points(files.at("training_gates_demo_layer1.svg")), (std::vector<size_t>{4}));

  test::write_text(dir / "broken.jsonl", json({{"step", 1}, {"loss", 2.0}}).dump() + "\n{\"step\": 2,\n");
  try {
    read_report_inputs({dir / "broken.jsonl"});
    ADD_FAILURE() << "a broken line was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jsonl:2: not a JSON object"), std::string::npos) << e.what();
  }
}

TEST(Report, ShowsProvenance) {
  auto inputs = read_report_inputs({fixture("ppl.json"), fixture("gates.json")});
  inputs.ppl[0].provenance = {"infini eval ppl --checkpoint runs/books-small/final --max-tokens-per-doc 4096",
                              "infini 0.3.0 (LibTorch 1.13.1)", "2026-11-30T05:00:00Z", 300, "0123456789abcdef"};
  // Through the schema and back, and into the report; results written before it show dashes.
  const auto back = PerplexityResult::from_json(inputs.ppl[0].to_json(), "again");
  EXPECT_EQ(back.provenance.checkpoint_step, 300);
  EXPECT_EQ(back.provenance.command, inputs.ppl[0].provenance.command);
  const auto md = render_report(inputs).at("report.md");
  EXPECT_NE(md.find("| ppl books-small/final | 300 | 0123456789abcdef | infini 0.3.0 (LibTorch 1.13.1) | "
                    "2026-11-30T05:00:00Z | `infini eval ppl --checkpoint runs/books-small/final --max-tokens-per-doc 4096` |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| gates "), std::string::npos) << md;
  EXPECT_NE(md.find(" | – | – | – | – | – |"), std::string::npos) << md;
}
