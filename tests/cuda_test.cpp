// The CUDA path against the CPU: every attention kind, bf16 autocast, segment checkpointing,
// bit-exact resume, eval ppl and NCCL. Each test is skipped where LibTorch sees no GPU (every CI
// run); scripts/gpu_check.sh runs them on one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/autocast.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "test_support.h"
#include "train/segment_checkpoint.h"

using namespace infini;
namespace fs = std::filesystem;

namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

const torch::Device kCuda(torch::kCUDA, 0);

struct Variant {
  AttentionKind kind;
  MemoryUpdate rule;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return attention_kind_name(info.param.kind) + (info.param.rule == MemoryUpdate::Delta ? "Delta" : "");
}

Decoder tiny_model(const Variant& v) {
  auto config = test::tiny_config(v.kind, 8);
  config.attention.memory_update = v.rule;
  Decoder model(config);
  model->initialise(11);
  model->set_gates(0.3);
  return model;
}

// Logits of four segments with the state carried, on the model's device.
torch::Tensor run_segments(Decoder& model, const torch::Tensor& tokens, bool bf16 = false) {
  AutocastScope autocast(bf16);
  ModelState state;
  return forward_sequence(model, tokens, 8, state).to(torch::kFloat32).cpu();
}

double max_relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

}  // namespace

class CudaKinds : public ::testing::TestWithParam<Variant> {};

TEST_P(CudaKinds, Float32EqualsTheCpu) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny_model(GetParam());
  torch::manual_seed(3);
  auto tokens = torch::randint(model->config().vocab_size, {2, 32});
  const auto cpu = run_segments(model, tokens);
  model->to(kCuda);
  const auto cuda = run_segments(model, tokens.to(kCuda));
  EXPECT_TRUE(torch::allclose(cuda, cpu, 1e-5, 1e-5)) << "max difference " << (cuda - cpu).abs().max().item<double>();
}

// bf16 autocast: matmuls in bf16 (8 bits of mantissa), softmax and memory in float32. Logits of a
// tiny random model stay within 3% of the largest float32 logit.
TEST_P(CudaKinds, Bf16AutocastStaysNearFloat32) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny_model(GetParam());
  model->to(kCuda);
  torch::manual_seed(4);
  auto tokens = torch::randint(model->config().vocab_size, {2, 32}).to(kCuda);
  const auto full = run_segments(model, tokens);
  const auto bf16 = run_segments(model, tokens, true);
  EXPECT_LT(max_relative_difference(bf16, full), 0.03);
  EXPECT_GT(max_relative_difference(bf16, full), 0.0) << "autocast did not change the matmuls' precision";
}

TEST_P(CudaKinds, SegmentCheckpointingGivesThePlainGradients) {
  SKIP_WITHOUT_CUDA();
  auto model = tiny_model(GetParam());
  model->to(kCuda);
  torch::manual_seed(5);
  auto tokens = torch::randint(model->config().vocab_size, {2, 24}).to(kCuda);
  auto targets = torch::randint(model->config().vocab_size, {2, 24}).to(kCuda);
  auto gradients = [&](bool checkpointed) {
    model->zero_grad();
    ModelState state;
    CheckpointedSegments segments(model);
    torch::Tensor total = torch::zeros({}, torch::TensorOptions().device(kCuda));
    for (int64_t start = 0; start < 24; start += 8) {
      auto x = tokens.slice(1, start, start + 8), y = targets.slice(1, start, start + 8);
      auto result = checkpointed ? segments.run(x, y, state) : run_segment(model, x, y, state);
      total = total + result.loss_sum;
      state = result.state;
    }
    total.backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : model->parameters()) grads.push_back(p.grad().cpu().clone());
    return grads;
  };
  const auto plain = gradients(false), checkpointed = gradients(true);
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_TRUE(torch::allclose(checkpointed[i], plain[i], 1e-5, 1e-6))
        << "parameter " << i << " max difference " << (checkpointed[i] - plain[i]).abs().max().item<double>();
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, CudaKinds,
                         ::testing::Values(Variant{AttentionKind::Infini, MemoryUpdate::Linear},
                                           Variant{AttentionKind::Infini, MemoryUpdate::Delta},
                                           Variant{AttentionKind::Local, MemoryUpdate::Linear},
                                           Variant{AttentionKind::Xl, MemoryUpdate::Linear},
                                           Variant{AttentionKind::Full, MemoryUpdate::Linear}),
                         variant_name);

// `infini train` and `infini eval ppl` on the GPU, through the binary.
class CudaRuns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) return;
    fs::create_directories(dir_ / "corpus");
    for (int i = 0; i < 6; ++i) {
      test::write_text(dir_ / ("corpus/doc" + std::to_string(i) + ".txt"), test::generated_text(600 + 200 * i, 60 + i));
    }
  }

  std::string train(const std::string& run, const std::string& extra) const {
    return std::string("train --config ") + INFINI_SOURCE_DIR + "/configs/tiny.yaml --progress off" +
           " --set data.tokenizer=" + test::shared_tokenizer() + " --set data.train=" + (dir_ / "corpus") +
           " --set run.dir=" + (dir_ / run) + " --set run.device=cuda --set run.deterministic=true" +
           " --set train.carry_memory=true --set train.log_every=1 " + extra;
  }

  std::string model_bytes(const std::string& run, const std::string& checkpoint) const {
    return test::read_text(dir_ / (run + "/checkpoints/" + checkpoint + "/model.safetensors"));
  }

  test::TempDir dir_;
};

TEST_F(CudaRuns, TrainingResumesBitExactly) {
  SKIP_WITHOUT_CUDA();
  const std::string steps = "--set train.steps=8 --set train.save_every=4";
  auto whole = test::run_infini(train("whole", steps));
  ASSERT_EQ(whole.status, 0) << whole.output;
  auto first = test::run_infini(train("split", steps) + " --stop-at-step 4");
  ASSERT_EQ(first.status, 0) << first.output;
  auto second = test::run_infini(train("split", steps) + " --set run.resume=auto");
  ASSERT_EQ(second.status, 0) << second.output;
  for (const char* file : {"model.safetensors", "optimizer.safetensors", "memory_state.safetensors"}) {
    const auto a = test::read_text(dir_ / ("whole/checkpoints/step-00000008/" + std::string(file)));
    EXPECT_FALSE(a.empty()) << file;
    EXPECT_TRUE(a == test::read_text(dir_ / ("split/checkpoints/step-00000008/" + std::string(file))))
        << file << " differs after resume";
  }
}

TEST_F(CudaRuns, NcclWithOneRankTrainsAsOneProcess) {
  SKIP_WITHOUT_CUDA();
  const std::string steps = "--set train.steps=3 --set train.save_every=3";
  auto alone = test::run_infini(train("alone", steps));
  ASSERT_EQ(alone.status, 0) << alone.output;
  test::CommandResult group;
  {
    const auto environment = test::ScopedEnvironment::one_rank_group(21000 + ::getpid() % 2000);
    group = test::run_infini(train("nccl", steps) + " --dist-backend nccl");
  }
  ASSERT_EQ(group.status, 0) << group.output;
  // One rank's all-reduce is the identity: the same weights to the bit.
  EXPECT_FALSE(model_bytes("alone", "step-00000003").empty());
  EXPECT_TRUE(model_bytes("alone", "step-00000003") == model_bytes("nccl", "step-00000003"));
}

TEST_F(CudaRuns, EvalPplEqualsTheCpu) {
  SKIP_WITHOUT_CUDA();
  auto trained = test::run_infini(train("model", "--set train.steps=4 --set train.save_every=4"));
  ASSERT_EQ(trained.status, 0) << trained.output;
  fs::create_directories(dir_ / "books");
  test::write_text(dir_ / "books/book.txt", test::generated_text(3000, 7));
  auto eval = [&](const std::string& device) {
    const std::string out = dir_ / ("ppl-" + device + ".json");
    auto result = test::run_infini("eval ppl --checkpoint " + (dir_ / "model/checkpoints/step-00000004") + " --data " +
                                   (dir_ / "books") + " --device " + device + " --out " + out);
    EXPECT_EQ(result.status, 0) << result.output;
    std::ifstream in(out);
    return nlohmann::json::parse(in).at("total");
  };
  const auto cpu = eval("cpu"), cuda = eval("cuda");
  EXPECT_EQ(cuda.at("tokens"), cpu.at("tokens"));
  EXPECT_NEAR(cuda.at("nll").get<double>(), cpu.at("nll").get<double>(), 1e-5 * cpu.at("nll").get<double>());
}
