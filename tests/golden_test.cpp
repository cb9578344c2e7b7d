// A golden loss curve: the first 10 training losses of configs/tiny.yaml on a fixed generated
// corpus (float32, 1 thread), held to tests/fixtures/golden/tiny_losses.json within 1e-4
// relative, so that any change to the numerics shows. scripts/golden_curve.sh rewrites the file
// (INFINI_WRITE_GOLDEN=1); changing it is a deliberate, reviewed step.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "config/run_config.h"
#include "core/files.h"
#include "test_support.h"
#include "train/trainer.h"

using namespace infini;

TEST(Golden, TinyLossCurve) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "corpus");
  for (int i = 0; i < 12; ++i) {
    test::write_text(dir / ("corpus/doc" + std::to_string(i) + ".txt"), test::generated_text(150 + 90 * i, 20 + i));
  }
  const std::string config_file = std::string(INFINI_SOURCE_DIR) + "/configs/tiny.yaml";
  Trainer trainer(load_run_config(config_file, {"data.tokenizer=" + test::shared_tokenizer(), "data.train=" + (dir / "corpus"),
                                                "run.dir=" + (dir / "run"), "run.threads=1", "run.dtype=float32"}),
                  {});
  std::vector<double> losses;
  for (int step = 0; step < 10; ++step) {
    const auto report = trainer.step();
    ASSERT_FALSE(report.skipped);
    losses.push_back(report.loss_sum / static_cast<double>(report.tokens));
  }
  const std::string golden = std::string(INFINI_SOURCE_DIR) + "/tests/fixtures/golden/tiny_losses.json";
  if (std::getenv("INFINI_WRITE_GOLDEN") != nullptr) {
    const nlohmann::json json = {{"config", "configs/tiny.yaml"},
                                 {"corpus", "12 generated documents (tests/golden_test.cpp)"},
                                 {"threads", 1},
                                 {"dtype", "float32"},
                                 {"losses", losses}};
    write_file_atomic(golden, json.dump(2) + "\n");
    GTEST_SKIP() << "wrote " << golden;
  }
  const auto expected = read_json_file(golden).at("losses").get<std::vector<double>>();
  ASSERT_EQ(expected.size(), losses.size());
  for (size_t i = 0; i < losses.size(); ++i) {
    EXPECT_NEAR(losses[i], expected[i], 1e-4 * expected[i]) << "step " << i + 1;
  }
}
