// `infini eval ppl` and the command line's handling of bad input, through the real binary.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <regex>

#include "data/tokenizer.h"
#include "test_support.h"

using namespace infini;
using nlohmann::json;

namespace {

// A tiny random checkpoint, made once per test process through `infini init`.
std::string tiny_checkpoint(const test::TempDir& dir, const std::string& extra = "") {
  const std::string out = dir / "ckpt";
  auto result = test::run_infini("init --config " + std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml --tokenizer " +
                                 test::shared_tokenizer() + " --out " + out + " " + extra);
  EXPECT_EQ(result.status, 0) << result.output;
  return out;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The float32 and bfloat16 matmul rates `infini doctor` printed (0, 0 where it printed none).
std::pair<double, double> doctor_rates(const test::CommandResult& doctor) {
  EXPECT_EQ(doctor.status, 0) << doctor.output;
  std::smatch rates;
  if (!std::regex_search(doctor.output, rates,
                         std::regex(R"(matmul +float32 ([0-9]+) GFLOP/s, bfloat16 ([0-9]+) GFLOP/s)"))) {
    ADD_FAILURE() << "no matmul rates in: " << doctor.output;
    return {0.0, 0.0};
  }
  return {std::stod(rates[1].str()), std::stod(rates[2].str())};
}

}  // namespace

TEST(EvalPpl, JsonFieldsAreConsistent) {
  test::TempDir dir;
  auto checkpoint = tiny_checkpoint(dir);
  std::filesystem::create_directory(dir / "docs");
  test::write_text(dir / "docs/a.txt", test::generated_text(400, 1));
  test::write_text(dir / "docs/b.txt", test::generated_text(150, 2));
  auto result = test::run_infini("eval ppl --checkpoint " + checkpoint + " --data " + (dir / "docs") +
                                 " --bucket-width 100 --out " + (dir / "out.json"));
  ASSERT_EQ(result.status, 0) << result.output;
  auto out = read_json(dir / "out.json");
  EXPECT_EQ(out["checkpoint"], checkpoint);
  EXPECT_EQ(out["segment_length"], 64);
  EXPECT_EQ(out["memory"], true);
  EXPECT_EQ(out["dtype"], "float32");

  Tokenizer tokenizer(test::shared_tokenizer());
  int64_t tokens = 0, bytes = 0;
  double nll = 0;
  for (size_t i = 0; i < 2; ++i) {
    const auto& d = out["documents"][i];
    const std::string text = test::generated_text(i == 0 ? 400 : 150, i + 1);
    EXPECT_EQ(d["name"], i == 0 ? "a.txt" : "b.txt");
    EXPECT_EQ(d["tokens"].get<int64_t>(), static_cast<int64_t>(tokenizer.document_tokens(text).size()) - 1);
    EXPECT_EQ(d["bytes"].get<int64_t>(), static_cast<int64_t>(text.size()));
    tokens += d["tokens"].get<int64_t>();
    bytes += d["bytes"].get<int64_t>();
    nll += d["nll"].get<double>();
  }
  const auto& total = out["total"];
  EXPECT_EQ(total["documents"], 2);
  EXPECT_EQ(total["tokens"].get<int64_t>(), tokens);
  EXPECT_EQ(total["bytes"].get<int64_t>(), bytes);
  EXPECT_NEAR(total["nll"].get<double>(), nll, 1e-9 * nll);
  EXPECT_NEAR(total["ppl"].get<double>(), std::exp(nll / tokens), 1e-9);
  EXPECT_NEAR(total["bits_per_byte"].get<double>(), nll / (std::log(2.0) * bytes), 1e-12);
  // A random model over a 300-piece vocabulary: perplexity near the vocabulary size.
  EXPECT_GT(total["ppl"].get<double>(), 100.0);
  EXPECT_LT(total["ppl"].get<double>(), 1000.0);

  int64_t bucket_tokens = 0;
  double bucket_nll = 0;
  for (const auto& b : out["by_position"]) {
    EXPECT_EQ(b["end"].get<int64_t>() - b["start"].get<int64_t>(), 100);
    bucket_tokens += b["tokens"].get<int64_t>();
    bucket_nll += b["nll"].get<double>();
    if (b["tokens"].get<int64_t>() > 0) {
      EXPECT_NEAR(b["ppl"].get<double>(), std::exp(b["nll"].get<double>() / b["tokens"].get<double>()), 1e-9);
    }
  }
  EXPECT_EQ(bucket_tokens, tokens);
  EXPECT_NEAR(bucket_nll, nll, 1e-9 * nll);

  const auto& f = out["footprint"];
  // tiny.yaml: 2 infini layers, 2 kv heads of 16: 16·17·2·2 floats of memory.
  EXPECT_EQ(f["memory_state_bytes"].get<int64_t>(), 16 * 17 * 2 * 2 * 4);
  const int64_t longest = out["documents"][0]["tokens"].get<int64_t>() + 1;
  EXPECT_EQ(f["kv_cache_bytes_full_attention"].get<int64_t>(), 2 * 16 * 2 * longest * 2 * 4);
  EXPECT_NEAR(f["compression_ratio"].get<double>(),
              f["kv_cache_bytes_full_attention"].get<double>() / f["memory_state_bytes"].get<double>(), 1e-12);
  EXPECT_GT(f["parameters"].get<int64_t>(), 0);
  EXPECT_GT(f["peak_rss_bytes"].get<int64_t>(), 0);
}

TEST(EvalPpl, PreparedShardsScoreExactlyAsText) {
  test::TempDir dir;
  auto checkpoint = tiny_checkpoint(dir);
  std::filesystem::create_directory(dir / "docs");
  test::write_text(dir / "docs/a.txt", test::generated_text(300, 3));
  test::write_text(dir / "docs/b.txt", test::generated_text(90, 4));
  auto prepared = test::run_infini("data prepare --tokenizer " + test::shared_tokenizer() + " --input " + (dir / "docs") +
                                   " --out " + (dir / "shards"));
  ASSERT_EQ(prepared.status, 0) << prepared.output;
  auto score = [&](const std::string& data) {
    auto result = test::run_infini("eval ppl --checkpoint " + checkpoint + " --data " + data + " --out " + (dir / "s.json"));
    EXPECT_EQ(result.status, 0) << result.output;
    return read_json(dir / "s.json");
  };
  auto text = score(dir / "docs"), shards = score(dir / "shards");
  EXPECT_EQ(text["documents"], shards["documents"]);
  EXPECT_EQ(text["total"], shards["total"]);
  EXPECT_EQ(text["provenance"]["data_fingerprint"], shards["provenance"]["data_fingerprint"]);
  // Shards of another tokenizer are refused.
  std::filesystem::copy_file(dir / "docs/a.txt", dir / "other.txt");
  auto other = test::run_infini("tokenizer train --input " + (dir / "other.txt") + " --vocab-size 290 --out " +
                                (dir / "other.model"));
  ASSERT_EQ(other.status, 0) << other.output;
  auto reprepared = test::run_infini("data prepare --tokenizer " + (dir / "other.model") + " --input " + (dir / "docs") +
                                     " --out " + (dir / "shards") + " --force");
  ASSERT_EQ(reprepared.status, 0) << reprepared.output;
  auto refused = test::run_infini("eval ppl --checkpoint " + checkpoint + " --data " + (dir / "shards"));
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("another tokenizer"), std::string::npos) << refused.output;
}

TEST(EvalPpl, NoMemoryAndSegmentLengthChangeTheResult) {
  test::TempDir dir;
  auto checkpoint = tiny_checkpoint(dir, "--set init.gate_init=2");
  test::write_text(dir / "doc.txt", test::generated_text(300));
  auto nll_of = [&](const std::string& flags) {
    auto result = test::run_infini("eval ppl --checkpoint " + checkpoint + " --data " + (dir / "doc.txt") + " " + flags +
                                   " --bucket-width 64 --out " + (dir / "o.json"));
    EXPECT_EQ(result.status, 0) << result.output;
    return read_json(dir / "o.json");
  };
  auto with_memory = nll_of("");
  auto without = nll_of("--no-memory");
  auto one_segment = nll_of("--segment-length 100000");
  EXPECT_EQ(without["memory"], false);
  EXPECT_NE(with_memory["total"]["nll"], without["total"]["nll"]);
  EXPECT_EQ(one_segment["segment_length"], 100000);
  // The first segment reads an empty memory, so it scores the same with and without memory, up to
  // float32 reassociation: with memory, several segments share one forward call's matrix products.
  const double first = without["by_position"][0]["nll"].get<double>();
  EXPECT_NEAR(with_memory["by_position"][0]["nll"].get<double>(), first, 1e-6 * first);
}

TEST(EvalPpl, PeakMemoryDoesNotGrowWithDocumentLength) {
  // A 262,144-token document evaluates in the same peak memory as a 65,536-token one, from
  // prepared shards and from text alike (both are read as they are scored): within 10%, where
  // holding the text and its tokens would cost ~17 bytes a token (+3.2 MiB) and anything per
  // token of the model's, such as logits, hundreds. scripts/bench_bounded_memory.sh measures
  // 1M against 32K.
  test::TempDir dir;
  auto checkpoint = tiny_checkpoint(dir, "--set model.infini_attention.segment_length=512");
  Tokenizer tokenizer(test::shared_tokenizer());
  auto document_of = [&](int64_t tokens, const std::string& name) {
    // Size the text from a sample's tokens per word, then check the whole once.
    const double per_word = static_cast<double>(tokenizer.encode(test::generated_text(2000, 5)).size()) / 2000;
    std::string text = test::generated_text(static_cast<int64_t>(1.02 * tokens / per_word) + 100, 5);
    EXPECT_GE(static_cast<int64_t>(tokenizer.document_tokens(text).size()) - 1, tokens);
    std::filesystem::create_directories(dir / name);
    test::write_text(dir / (name + "/doc.txt"), text);
    auto prepared = test::run_infini("data prepare --tokenizer " + test::shared_tokenizer() + " --input " +
                                     (dir / name) + " --out " + (dir / (name + "-shards")));
    EXPECT_EQ(prepared.status, 0) << prepared.output;
  };
  document_of(65536, "short");
  document_of(262144, "long");
  auto peak_of = [&](const std::string& data) {
    auto result = test::run_infini("eval ppl --checkpoint " + checkpoint + " --data " + (dir / data) + " --out " +
                                   (dir / "peak.json"));
    EXPECT_EQ(result.status, 0) << result.output;
    auto out = read_json(dir / "peak.json");
    return std::make_pair(out["footprint"]["peak_rss_bytes"].get<double>(), out["total"]["tokens"].get<int64_t>());
  };
  auto [short_peak, short_tokens] = peak_of("short-shards");
  auto [long_peak, long_tokens] = peak_of("long-shards");
  EXPECT_GE(short_tokens, 65536);
  EXPECT_GE(long_tokens, 262144);
  std::cout << "peak RSS from shards: " << short_tokens << " tokens " << short_peak / 1048576 << " MiB, " << long_tokens
            << " tokens " << long_peak / 1048576 << " MiB\n";
  EXPECT_LT(long_peak, 1.10 * short_peak);
  auto [short_text_peak, short_text_tokens] = peak_of("short");
  auto [long_text_peak, long_text_tokens] = peak_of("long");
  EXPECT_EQ(short_text_tokens, short_tokens);
  EXPECT_EQ(long_text_tokens, long_tokens);
  std::cout << "peak RSS from text: " << short_text_peak / 1048576 << " MiB, " << long_text_peak / 1048576 << " MiB\n";
  EXPECT_LT(long_text_peak, 1.10 * short_text_peak);
}

TEST(EvalPpl, SeveralCheckpointsWithTheMemoryAblationFeedTheReport) {
  test::TempDir dir;
  auto first = tiny_checkpoint(dir, "--set init.gate_init=2");
  auto second_init = test::run_infini("init --config " + std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml --tokenizer " +
                                      test::shared_tokenizer() + " --out " + (dir / "second") + " --set run.seed=5");
  ASSERT_EQ(second_init.status, 0) << second_init.output;
  test::write_text(dir / "doc.txt", test::generated_text(300));
  auto alone = test::run_infini("eval ppl --checkpoint " + first + " --data " + (dir / "doc.txt") + " --out " + (dir / "a.json"));
  ASSERT_EQ(alone.status, 0) << alone.output;
  auto both = test::run_infini("eval ppl --checkpoint " + first + " --checkpoint " + (dir / "second") + " --data " +
                               (dir / "doc.txt") + " --memory-ablation --out " + (dir / "b.json"));
  ASSERT_EQ(both.status, 0) << both.output;
  const auto single = read_json(dir / "a.json");
  const auto results = read_json(dir / "b.json");
  ASSERT_TRUE(results.is_array());
  ASSERT_EQ(results.size(), 4u);  // each checkpoint with memory, then reset every segment
  EXPECT_EQ(results[0]["total"], single["total"]);
  EXPECT_EQ(results[0]["memory"], true);
  EXPECT_EQ(results[1]["memory"], false);
  EXPECT_EQ(results[2]["checkpoint"], dir / "second");
  EXPECT_NE(results[0]["total"]["nll"], results[1]["total"]["nll"]);
  EXPECT_NE(results[0]["total"]["nll"], results[2]["total"]["nll"]);
  // Gate init 2 everywhere: sigmoid(2) for every head of both layers.
  ASSERT_EQ(results[0]["gates"].size(), 2u);
  EXPECT_NEAR(results[0]["gates"][1]["values"][3].get<double>(), 1.0 / (1.0 + std::exp(-2.0)), 1e-6);
  EXPECT_GT(results[0]["timing"]["tokens_per_second"].get<double>(), 0.0);
  EXPECT_EQ(results[0]["model"]["infini_attention"]["kind"], "infini");
  // Provenance: the command with its flags, the program, the date; the same documents give the
  // same data fingerprint; an `init` checkpoint has no training step.
  const auto& provenance = results[1]["provenance"];
  EXPECT_NE(provenance["command"].get<std::string>().find("eval ppl --checkpoint"), std::string::npos) << provenance;
  EXPECT_NE(provenance["command"].get<std::string>().find("--memory-ablation"), std::string::npos) << provenance;
  EXPECT_EQ(provenance["program"].get<std::string>().rfind("infini 0.", 0), 0u) << provenance;
  EXPECT_TRUE(std::regex_match(provenance["date"].get<std::string>(), std::regex(R"(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << provenance;
  EXPECT_EQ(provenance["checkpoint_step"], -1);
  EXPECT_EQ(provenance["data_fingerprint"].get<std::string>().size(), 16u);
  EXPECT_EQ(provenance["data_fingerprint"], single["provenance"]["data_fingerprint"]);
  EXPECT_EQ(results[2]["provenance"]["data_fingerprint"], single["provenance"]["data_fingerprint"]);

  auto report = test::run_infini("report " + (dir / "b.json") + " --out " + (dir / "report"));
  ASSERT_EQ(report.status, 0) << report.output;
  const auto md = test::read_text(dir / "report/report.md");
  EXPECT_NE(md.find("| ckpt | infini (linear) | 4.2 KiB ("), std::string::npos) << md;
  EXPECT_NE(md.find(fmt::format(" | 64 | {:.2f} |", single["total"]["ppl"].get<double>())), std::string::npos) << md;
  EXPECT_NE(md.find("| second without memory | infini (linear) | reset every segment | 64 |"), std::string::npos) << md;
  EXPECT_NE(md.find(" | ckpt | ckpt without memory | "), std::string::npos) << md;  // a paired comparison
  EXPECT_NE(md.find("## Provenance"), std::string::npos) << md;

  auto clash = test::run_infini("eval ppl --checkpoint " + first + " --data " + (dir / "doc.txt") +
                                " --memory-ablation --no-memory");
  EXPECT_EQ(clash.status, 2) << clash.output;
}

TEST(Cli, BadInputExitsWithStatusTwoNamingTheProblem) {
  test::TempDir dir;
  const std::string tiny = std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml";
  auto expect_two = [](const test::CommandResult& r, const std::string& fragment) {
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
  };
  const std::string init = "init --tokenizer " + test::shared_tokenizer() + " --out " + (dir / "c") + " --config ";
  test::write_text(dir / "unknown.yaml", "model:\n  hidden_size: 8\n  num_hidden_layers: 1\n  num_attention_heads: 2\n  rope_thetta: 3\n");
  expect_two(test::run_infini(init + (dir / "unknown.yaml")), "model.rope_thetta: unknown key (did you mean model.rope_theta?)");
  test::write_text(dir / "type.yaml", "model:\n  hidden_size: eight\n  num_hidden_layers: 1\n  num_attention_heads: 2\n");
  expect_two(test::run_infini(init + (dir / "type.yaml")), "model.hidden_size: expected an integer");
  expect_two(test::run_infini(init + tiny + " --set model.infini_attention.memory_update=quadratic"),
             "model.infini_attention.memory_update: expected one of linear, delta");
  expect_two(test::run_infini(init + (dir / "missing.yaml")), dir / "missing.yaml");
  EXPECT_FALSE(std::filesystem::exists(dir / "c")) << "failed commands write nothing";

  test::write_text(dir / "doc.txt", "some words");
  expect_two(test::run_infini("eval ppl --checkpoint " + (dir / "nothing") + " --data " + (dir / "doc.txt")),
             dir / "nothing");
  // An unreadable checkpoint: config.json present, weights truncated.
  ASSERT_EQ(test::run_infini(init + tiny).status, 0);
  std::filesystem::resize_file(dir / "c/model.safetensors", 100);
  expect_two(test::run_infini("eval ppl --checkpoint " + (dir / "c") + " --data " + (dir / "doc.txt")),
             dir / "c/model.safetensors");
  expect_two(test::run_infini("eval ppl --checkpoint " + (dir / "c") + " --data " + (dir / "doc.csv")), "doc.csv");
  // An existing output is not replaced when init fails or is not forced.
  expect_two(test::run_infini(init + tiny), "already exists");
  expect_two(test::run_infini("eval ppl --checkpoint " + (dir / "c")), "--data");
  expect_two(test::run_infini("nonsense"), "nonsense");
}

TEST(Cli, DoctorMeasuresBothMatmulRates) {
  const auto doctor = test::run_infini("doctor");
  const auto [f32, bf16] = doctor_rates(doctor);
  EXPECT_GT(f32, 0.0);
  EXPECT_GT(bf16, 0.0);
  // A warning is something to act on: when bfloat16 is the slower, it says that commands asked for
  // it compute in float32 (and how to keep it).
  const bool warned = doctor.output.find("compute in float32 here") != std::string::npos;
  if (bf16 < 0.95 * f32) {
    EXPECT_TRUE(warned) << doctor.output;
  }
  if (bf16 > 1.05 * f32) {
    EXPECT_FALSE(warned) << doctor.output;
  }
  // The recommendation follows the rates (bfloat16 from 1.25x float32's; rates drift a little
  // between the measurement and this check, so only clear cases are held).
  const bool bf16_recommended = doctor.output.find("dtype         bfloat16 recommended") != std::string::npos;
  const bool f32_recommended = doctor.output.find("dtype         float32 recommended") != std::string::npos;
  EXPECT_NE(bf16_recommended, f32_recommended) << doctor.output;
  if (bf16 > 1.35 * f32) {
    EXPECT_TRUE(bf16_recommended) << doctor.output;
  }
  if (bf16 < 1.15 * f32) {
    EXPECT_TRUE(f32_recommended) << doctor.output;
  }
}

TEST(EvalPpl, Bfloat16AskedComputesInFloat32WhereItsMatmulsAreSlower) {
  // oneDNN capped below AVX-512 BF16, as on a CPU without those units, converts every block of a
  // bfloat16 matmul: 0.59x float32's rate on the 2-core AVX-512 BF16 EPYC. `infini doctor` under
  // the same cap says which side of the line this machine is on; within 15% of it two
  // measurements could disagree, so the test skips there.
  test::ScopedEnvironment capped({std::pair<std::string, std::string>{"ONEDNN_MAX_CPU_ISA", "AVX512_CORE"}});
  const auto [f32, bf16] = doctor_rates(test::run_infini("doctor"));
  ASSERT_GT(f32, 0.0);
  const double ratio = bf16 / f32;
  if (std::abs(ratio - 1.0) < 0.15) GTEST_SKIP() << "bfloat16 matmuls at " << ratio << "x float32's: too close to call";
  const bool slower = ratio < 1.0;

  test::TempDir dir;
  auto checkpoint = tiny_checkpoint(dir);
  test::write_text(dir / "doc.txt", test::generated_text(300));
  const std::string warning = "computing in float32 instead";
  auto score = [&](const std::string& flags) {
    auto result = test::run_infini("eval ppl --checkpoint " + checkpoint + " --data " + (dir / "doc.txt") + " " + flags +
                                   " --out " + (dir / "o.json"));
    EXPECT_EQ(result.status, 0) << result.output;
    return std::make_pair(read_json(dir / "o.json"), result.output.find(warning) != std::string::npos);
  };
  const auto [float32, float32_warned] = score("--dtype float32");
  const auto [asked, asked_warned] = score("--dtype bfloat16");
  EXPECT_FALSE(float32_warned);
  EXPECT_EQ(asked_warned, slower) << "bfloat16 matmuls at " << ratio << "x float32's";
  EXPECT_EQ(asked["dtype"], slower ? "float32" : "bfloat16");
  if (slower) {  // what ran is float32, to the last bit
    EXPECT_EQ(asked["total"]["nll"].get<double>(), float32["total"]["nll"].get<double>());
  } else {
    EXPECT_NE(asked["total"]["nll"].get<double>(), float32["total"]["nll"].get<double>());
  }
  // INFINI_KEEP_BFLOAT16 keeps what was asked, whatever the rates.
  test::ScopedEnvironment keep({std::pair<std::string, std::string>{"INFINI_KEEP_BFLOAT16", "1"}});
  const auto [kept, kept_warned] = score("--dtype bfloat16");
  EXPECT_FALSE(kept_warned);
  EXPECT_EQ(kept["dtype"], "bfloat16");
  EXPECT_NE(kept["total"]["nll"].get<double>(), float32["total"]["nll"].get<double>());
}
