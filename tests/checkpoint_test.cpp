// safetensors and checkpoint directories: round trips, rejected files, atomic replacement.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "model/checkpoint.h"
#include "test_support.h"

using namespace infini;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void expect_rejected(const std::string& path, const std::string& fragment) {
  try {
    read_safetensors(path);
    FAIL() << "accepted " << path;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

torch::Tensor logits_of(Decoder& model) {
  torch::NoGradGuard no_grad;
  auto tokens = torch::arange(0, 12).remainder(model->config().vocab_size).view({1, 12});
  ModelState state;
  return forward_sequence(model, tokens, model->config().attention.segment_length, state);
}

}  // namespace

TEST(Safetensors, RoundTripF32AndBF16Bitwise) {
  test::TempDir dir;
  NamedTensors tensors = {{"a", torch::randn({3, 5})},
                          {"b.weight", torch::randn({7}).to(torch::kBFloat16)},
                          {"scalar", torch::tensor(2.5)},
                          {"empty", torch::zeros({0, 4})}};
  write_safetensors(dir / "x.safetensors", tensors, {{"source", "test"}});
  SafetensorsFile file(dir / "x.safetensors");
  // {"format": "pt"} is always written (transformers refuses files without it), beside the caller's.
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.metadata().at("source"), "test");
  for (const auto& [name, tensor] : tensors) {
    auto back = file.tensor(name);
    EXPECT_EQ(back.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back, tensor)) << name;
  }
  // Header length is a multiple of 8 so the data stays aligned.
  uint64_t header = 0;
  std::memcpy(&header, read_bytes(dir / "x.safetensors").data(), 8);
  EXPECT_EQ(header % 8, 0u);
}

TEST(Safetensors, TruncatedFileIsRejected) {
  test::TempDir dir;
  write_safetensors(dir / "ok.safetensors", {{"w", torch::randn({64})}});
  auto bytes = read_bytes(dir / "ok.safetensors");
  test::write_text(dir / "cut.safetensors", bytes.substr(0, bytes.size() - 10));
  expect_rejected(dir / "cut.safetensors", "truncated");
  test::write_text(dir / "tiny.safetensors", bytes.substr(0, 5));
  expect_rejected(dir / "tiny.safetensors", "truncated");
  test::write_text(dir / "header.safetensors", bytes.substr(0, 20));
  expect_rejected(dir / "header.safetensors", "truncated");
}

TEST(Safetensors, InconsistentHeaderIsRejected) {
  test::TempDir dir;
  auto write_with_header = [&](const std::string& name, const nlohmann::json& header, size_t data_bytes) {
    std::string text = header.dump();
    uint64_t length = text.size();
    std::string bytes(reinterpret_cast<const char*>(&length), 8);
    bytes += text + std::string(data_bytes, '\0');
    test::write_text(dir / name, bytes);
  };
  write_with_header("shape.safetensors", {{"w", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 12}}}}}, 16);
  expect_rejected(dir / "shape.safetensors", "need 16");
  write_with_header("overlap.safetensors",
                    {{"a", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
                     {"b", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {4, 12}}}}},
                    16);
  expect_rejected(dir / "overlap.safetensors", "overlap");
  write_with_header("dtype.safetensors", {{"w", {{"dtype", "Q4"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}}, 8);
  expect_rejected(dir / "dtype.safetensors", "unsupported dtype");
  test::write_text(dir / "json.safetensors", std::string("\x04\0\0\0\0\0\0\0{{{{", 12));
  expect_rejected(dir / "json.safetensors", "header");
}

TEST(Checkpoint, ModelRoundTripF32AndBF16) {
  test::TempDir dir;
  for (std::string dtype : {"float32", "bfloat16"}) {
    auto config = test::tiny_config(AttentionKind::Infini, 4);
    config.torch_dtype = dtype == "float32" ? torch::kFloat32 : torch::kBFloat16;
    Decoder model(config);
    model->initialise(5);
    save_model(dir / dtype, model, "");
    SafetensorsFile stored(dir / dtype + "/model.safetensors");
    EXPECT_EQ(stored.tensor("model.embed_tokens.weight").scalar_type(),
              dtype == "float32" ? torch::kFloat32 : torch::kBFloat16);
    Decoder loaded = load_model(dir / dtype);
    if (dtype == "float32") {
      EXPECT_TRUE(torch::equal(logits_of(loaded), logits_of(model)));
    } else {
      // Weights went through bf16 once: the loaded model equals the rounded original exactly.
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.copy_(p.to(torch::kBFloat16).to(torch::kFloat32));
      EXPECT_TRUE(torch::equal(logits_of(loaded), logits_of(model)));
    }
  }
}

TEST(Checkpoint, ShardedCheckpointLoads) {
  test::TempDir dir;
  auto config = test::tiny_config(AttentionKind::Full, 16);
  Decoder model(config);
  model->initialise(6);
  save_model(dir / "single", model, "");
  // Split the tensors over two shards with an HF index, as large HF checkpoints come.
  fs::create_directory(dir / "sharded");
  fs::copy_file(dir / "single/config.json", dir / "sharded/config.json");
  NamedTensors first, second;
  nlohmann::json map;
  int i = 0;
  for (const auto& p : model->named_parameters()) {
    bool one = i++ % 2 == 0;
    (one ? first : second).emplace_back(p.key(), p.value());
    map[p.key()] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors(dir / "sharded/model-00001-of-00002.safetensors", first);
  write_safetensors(dir / "sharded/model-00002-of-00002.safetensors", second);
  test::write_text(dir / "sharded/model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  Decoder loaded = load_model(dir / "sharded");
  EXPECT_TRUE(torch::equal(logits_of(loaded), logits_of(model)));
}

TEST(Checkpoint, PlainLlamaConfigLoadsAsFull) {
  nlohmann::json hf = {{"vocab_size", 64}, {"hidden_size", 32}, {"num_hidden_layers", 2},
                       {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 48}};
  auto config = model_config_from_json(hf, "config.json");
  EXPECT_EQ(config.layer_kind(0), AttentionKind::Full);
  EXPECT_EQ(config.layer_kind(1), AttentionKind::Full);
}

TEST(Checkpoint, MissingOrMisshapenTensorIsRejected) {
  test::TempDir dir;
  Decoder model(test::tiny_config(AttentionKind::Infini));
  save_model(dir / "c", model, "");
  NamedTensors tensors;
  for (const auto& p : model->named_parameters()) {
    if (p.key() != "model.layers.1.self_attn.gate") tensors.emplace_back(p.key(), p.value());
  }
  write_safetensors(dir / "c/model.safetensors", tensors);
  EXPECT_THROW(
      {
        try {
          load_model(dir / "c");
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("model.layers.1.self_attn.gate"), std::string::npos);
          throw;
        }
      },
      InputError);
  tensors.emplace_back("model.layers.1.self_attn.gate", torch::zeros({3}));
  write_safetensors(dir / "c/model.safetensors", tensors);
  EXPECT_THROW(load_model(dir / "c"), InputError);
}

TEST(Checkpoint, FailedWriteLeavesThePreviousCheckpoint) {
  test::TempDir dir;
  Decoder old_model(test::tiny_config(AttentionKind::Infini));
  old_model->initialise(1);
  save_model(dir / "ckpt", old_model, "");
  Decoder new_model(test::tiny_config(AttentionKind::Infini));
  new_model->initialise(2);
  EXPECT_ANY_THROW(save_model(dir / "ckpt", new_model, dir / "no-such-tokenizer.model"));
  Decoder loaded = load_model(dir / "ckpt");
  EXPECT_TRUE(torch::equal(logits_of(loaded), logits_of(old_model)));
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "ckpt") << "staging left behind: " << entry.path();
  }
  // A successful save replaces it whole.
  save_model(dir / "ckpt", new_model, "");
  Decoder replaced = load_model(dir / "ckpt");
  EXPECT_TRUE(torch::equal(logits_of(replaced), logits_of(new_model)));
}

TEST(Checkpoint, KilledWriterLeavesOldOrNewWhole) {
  // A real crash: `infini init --force` rewriting a 30 MB checkpoint is SIGKILLed at varied
  // moments; the directory must always load as the old model or the new one.
  test::TempDir dir;
  test::write_text(dir / "model.yaml",
                   "model:\n  hidden_size: 256\n  num_hidden_layers: 8\n  num_attention_heads: 4\n"
                   "  intermediate_size: 768\n  infini_attention: {kind: infini, segment_length: 16}\n");
  const std::string common = "init --config " + (dir / "model.yaml") + " --tokenizer " + test::shared_tokenizer() +
                             " --out " + (dir / "ckpt") + " --force --set run.seed=";
  ASSERT_EQ(test::run_infini(common + "1").status, 0);
  auto load_logits = [](const std::string& path) {
    Decoder model = load_model(path);
    return logits_of(model);
  };
  auto reference_old = load_logits(dir / "ckpt");
  ASSERT_EQ(test::run_infini("init --config " + (dir / "model.yaml") + " --tokenizer " + test::shared_tokenizer() +
                             " --out " + (dir / "new") + " --set run.seed=2")
                .status,
            0);
  auto reference_new = load_logits(dir / "new");
  int saw_old = 0, saw_new = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    pid_t child = fork();
    if (child == 0) {
      execl("/bin/sh", "sh", "-c", (std::string("exec ") + INFINI_BINARY + " " + common + "2 >/dev/null 2>&1").c_str(),
            nullptr);
      _exit(127);
    }
    usleep(static_cast<useconds_t>(300000 + attempt * 150000));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    auto logits = load_logits(dir / "ckpt");
    bool is_old = torch::equal(logits, reference_old), is_new = torch::equal(logits, reference_new);
    EXPECT_TRUE(is_old || is_new) << "attempt " << attempt;
    saw_old += is_old;
    saw_new += is_new;
    if (is_new) {
      ASSERT_EQ(test::run_infini(common + "1").status, 0);  // back to old for the next try
    }
  }
  std::cout << "killed writers left the old checkpoint " << saw_old << " times, the new one " << saw_new << " times\n";
}
