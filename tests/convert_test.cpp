// Continual pre-training's plumbing: Hugging Face Llama directories import as `full` models whose
// logits equal an independent float64 Llama forward (sharded, BF16, GQA, tied or untied); a
// conversion to Infini-attention with closed gates reproduces the original exactly; export goes
// back to a plain HF directory; unsupported families are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/errors.h"
#include "model/checkpoint.h"
#include "model/convert.h"
#include "formats/safetensors.h"
#include "test_support.h"

using namespace infini;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kVocab = 300, kHidden = 32, kLayers = 2, kHeads = 4, kKvHeads = 2, kFfn = 48;
constexpr double kTheta = 500000.0, kEps = 1e-5;

using Weights = std::map<std::string, torch::Tensor>;

// Random weights in HF names, rounded to BF16 as a BF16 checkpoint would hold them.
Weights random_weights(bool tied) {
  torch::manual_seed(17);
  const int64_t d = kHidden / kHeads;
  Weights w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, double scale) {
    w[name] = (torch::randn(shape) * scale).to(torch::kBFloat16);
  };
  add("model.embed_tokens.weight", {kVocab, kHidden}, 0.5);
  add("model.norm.weight", {kHidden}, 0.1);
  w["model.norm.weight"] = (w["model.norm.weight"].to(torch::kFloat32) + 1).to(torch::kBFloat16);
  if (!tied) add("lm_head.weight", {kVocab, kHidden}, 0.2);
  for (int64_t l = 0; l < kLayers; ++l) {
    const auto p = "model.layers." + std::to_string(l) + ".";
    for (const char* norm : {"input_layernorm.weight", "post_attention_layernorm.weight"}) {
      w[p + norm] = (torch::randn({kHidden}) * 0.1 + 1).to(torch::kBFloat16);
    }
    add(p + "self_attn.q_proj.weight", {kHeads * d, kHidden}, 0.3);
    add(p + "self_attn.k_proj.weight", {kKvHeads * d, kHidden}, 0.3);
    add(p + "self_attn.v_proj.weight", {kKvHeads * d, kHidden}, 0.3);
    add(p + "self_attn.o_proj.weight", {kHidden, kHeads * d}, 0.3);
    add(p + "mlp.gate_proj.weight", {kFfn, kHidden}, 0.3);
    add(p + "mlp.up_proj.weight", {kFfn, kHidden}, 0.3);
    add(p + "mlp.down_proj.weight", {kHidden, kFfn}, 0.3);
  }
  return w;
}

json hf_config(bool tied) {
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", kVocab},
          {"hidden_size", kHidden}, {"num_hidden_layers", kLayers}, {"num_attention_heads", kHeads},
          {"num_key_value_heads", kKvHeads}, {"intermediate_size", kFfn}, {"hidden_act", "silu"},
          {"max_position_embeddings", 4096}, {"rms_norm_eps", kEps}, {"rope_theta", kTheta},
          {"tie_word_embeddings", tied}, {"attention_bias", false}, {"torch_dtype", "bfloat16"},
          {"bos_token_id", 1}, {"eos_token_id", 2}, {"rope_scaling", nullptr}};
}

// An HF directory with the weights split over two shards and an index.
void write_hf_directory(const std::string& dir, const Weights& w, const json& config) {
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json") << config.dump(2);
  NamedTensors first, second;
  json map = json::object();
  for (const auto& [name, tensor] : w) {
    const bool in_first = name.find("layers.1.") == std::string::npos;
    (in_first ? first : second).emplace_back(name, tensor);
    map[name] = in_first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  write_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  write_safetensors(dir + "/model-00002-of-00002.safetensors", second);
  std::ofstream(dir + "/model.safetensors.index.json") << json{{"metadata", json::object()}, {"weight_map", map}}.dump();
  fs::copy_file(test::shared_tokenizer(), dir + "/tokenizer.model");
}

// A plain float64 Llama forward written from the HF modelling code's definitions, sharing nothing
// with src/: RMSNorm, rotate-half RoPE, repeat_kv GQA, causal softmax, SwiGLU.
torch::Tensor reference_logits(const Weights& weights, bool tied, const torch::Tensor& tokens) {
  auto w = [&](const std::string& name) { return weights.at(name).to(torch::kFloat64); };
  const int64_t T = tokens.size(0), d = kHidden / kHeads;
  auto rms = [&](const torch::Tensor& x, const torch::Tensor& g) {
    return x * torch::rsqrt(x.pow(2).mean(-1, true) + kEps) * g;
  };
  auto positions = torch::arange(T, torch::kFloat64).unsqueeze(1);
  auto inverse = torch::pow(kTheta, -torch::arange(0, d, 2, torch::kFloat64) / d);
  auto angles = torch::cat({positions * inverse, positions * inverse}, 1);
  auto cos = angles.cos(), sin = angles.sin();
  auto rotate_half = [&](const torch::Tensor& t) { return torch::cat({-t.slice(-1, d / 2), t.slice(-1, 0, d / 2)}, -1); };
  auto rope = [&](const torch::Tensor& t) { return t * cos + rotate_half(t) * sin; };
  auto mask = torch::full({T, T}, -INFINITY, torch::kFloat64).triu(1);

  auto x = w("model.embed_tokens.weight").index_select(0, tokens);
  for (int64_t l = 0; l < kLayers; ++l) {
    const auto p = "model.layers." + std::to_string(l) + ".";
    auto h = rms(x, w(p + "input_layernorm.weight"));
    auto q = rope(h.matmul(w(p + "self_attn.q_proj.weight").t()).view({T, kHeads, d}).transpose(0, 1));
    auto k = rope(h.matmul(w(p + "self_attn.k_proj.weight").t()).view({T, kKvHeads, d}).transpose(0, 1));
    auto v = h.matmul(w(p + "self_attn.v_proj.weight").t()).view({T, kKvHeads, d}).transpose(0, 1);
    k = k.repeat_interleave(kHeads / kKvHeads, 0);
    v = v.repeat_interleave(kHeads / kKvHeads, 0);
    auto attention = torch::softmax(q.matmul(k.transpose(1, 2)) / std::sqrt(static_cast<double>(d)) + mask, -1).matmul(v);
    x = x + attention.transpose(0, 1).reshape({T, kHeads * d}).matmul(w(p + "self_attn.o_proj.weight").t());
    h = rms(x, w(p + "post_attention_layernorm.weight"));
    auto mlp = torch::silu(h.matmul(w(p + "mlp.gate_proj.weight").t())) * h.matmul(w(p + "mlp.up_proj.weight").t());
    x = x + mlp.matmul(w(p + "mlp.down_proj.weight").t());
  }
  x = rms(x, w("model.norm.weight"));
  return x.matmul((tied ? w("model.embed_tokens.weight") : w("lm_head.weight")).t());
}

torch::Tensor tokens_of_length(int64_t n) {
  torch::manual_seed(5);
  return torch::randint(3, kVocab, {n});
}

torch::Tensor our_logits(const std::string& dir, const torch::Tensor& tokens) {
  Decoder model = load_model(dir);
  torch::NoGradGuard no_grad;
  ModelState state;
  return forward_sequence(model, tokens.unsqueeze(0), model->config().attention.segment_length, state)[0].to(torch::kFloat64);
}

}  // namespace

class HfImport : public ::testing::TestWithParam<bool> {};

TEST_P(HfImport, ShardedBf16GqaLoadsAsFullWithTheReferenceLogits) {
  const bool tied = GetParam();
  test::TempDir dir;
  auto weights = random_weights(tied);
  write_hf_directory(dir / "hf", weights, hf_config(tied));
  EXPECT_EQ(read_model_config(dir / "hf").layer_kind(0), AttentionKind::Full);
  auto tokens = tokens_of_length(40);
  auto ours = our_logits(dir / "hf", tokens);
  auto reference = reference_logits(weights, tied, tokens);
  const double error = (ours - reference).abs().max().item<double>();
  EXPECT_LT(error, 2e-4 * reference.abs().max().item<double>()) << "max |difference| " << error;
}

INSTANTIATE_TEST_SUITE_P(TiedAndUntied, HfImport, ::testing::Values(false, true));

TEST(HfImportKeys, Transformers5RopeParametersAndDtypeReadAsTheEarlierKeys) {
  test::TempDir dir;
  auto weights = random_weights(false);
  auto config = hf_config(false);
  for (const char* key : {"rope_theta", "rope_scaling", "torch_dtype"}) config.erase(key);
  config["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", kTheta}};
  config["dtype"] = "bfloat16";
  write_hf_directory(dir / "hf", weights, config);
  const auto read = read_model_config(dir / "hf");
  EXPECT_EQ(read.rope_theta, kTheta);
  EXPECT_EQ(read.torch_dtype, torch::kBFloat16);
  auto tokens = tokens_of_length(40);
  auto reference = reference_logits(weights, false, tokens);
  EXPECT_LT((our_logits(dir / "hf", tokens) - reference).abs().max().item<double>(),
            2e-4 * reference.abs().max().item<double>());
  // Another RoPE type in the new key is refused as in the old one.
  config["rope_parameters"] = {{"rope_type", "linear"}, {"rope_theta", kTheta}, {"factor", 2.0}};
  std::ofstream(dir / "hf/config.json") << config.dump(2);
  try {
    read_model_config(dir / "hf");
    ADD_FAILURE() << "a linear rope_parameters was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rope_parameters"), std::string::npos) << e.what();
  }
}

TEST(Convert, InfiniWithClosedGatesReproducesTheOriginalThenDiffersWithMemory) {
  test::TempDir dir;
  auto weights = random_weights(false);
  write_hf_directory(dir / "hf", weights, hf_config(false));
  auto converted = test::run_infini("convert --from " + (dir / "hf") + " --to " + (dir / "infini") +
                                    " --set model.infini_attention.kind=infini --set model.infini_attention.segment_length=64"
                                    " --gate-init -10000");
  ASSERT_EQ(converted.status, 0) << converted.output;
  auto config = read_model_config(dir / "infini");
  EXPECT_EQ(config.layer_kind(1), AttentionKind::Infini);
  EXPECT_EQ(config.attention.segment_length, 64);
  SafetensorsFile file(dir / "infini/model.safetensors");
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.0.self_attn.q_proj.weight").to(torch::kBFloat16),
                           weights.at("model.layers.0.self_attn.q_proj.weight")));
  EXPECT_LT(file.tensor("model.layers.1.self_attn.gate")[0].item<double>(), -9900.0);  // -1e4 in BF16

  auto tokens = tokens_of_length(40);  // one segment: the document fits
  auto original = our_logits(dir / "hf", tokens);
  EXPECT_TRUE(torch::allclose(our_logits(dir / "infini", tokens), original, 1e-5, 1e-5));

  // Segments of 16 with open gates: memory and segment-local attention change the logits.
  ASSERT_EQ(test::run_infini("convert --from " + (dir / "hf") + " --to " + (dir / "open") +
                             " --set model.infini_attention.kind=infini --set model.infini_attention.segment_length=16")
                .status,
            0);
  EXPECT_GT((our_logits(dir / "open", tokens) - original).abs().max().item<double>(), 1e-3);
}

TEST(Convert, ExportToHfRoundTripsAFullModelAndRefusesInfini) {
  test::TempDir dir;
  auto weights = random_weights(true);
  write_hf_directory(dir / "hf", weights, hf_config(true));
  auto exported = test::run_infini("convert --from " + (dir / "hf") + " --to " + (dir / "out") + " --to-hf");
  ASSERT_EQ(exported.status, 0) << exported.output;
  json config;
  std::ifstream(dir / "out/config.json") >> config;
  EXPECT_FALSE(config.contains("infini_attention"));
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(config["max_position_embeddings"], 4096);  // the source's, not the segment length
  EXPECT_TRUE(fs::exists(dir / "out/tokenizer.model"));
  auto tokens = tokens_of_length(30);
  EXPECT_TRUE(torch::equal(our_logits(dir / "out", tokens), our_logits(dir / "hf", tokens)));

  ASSERT_EQ(test::run_infini("convert --from " + (dir / "hf") + " --to " + (dir / "infini") +
                             " --set model.infini_attention.kind=infini")
                .status,
            0);
  // An Infini-attention checkpoint is not a plain Llama to other loaders, and still one to us.
  json infini;
  std::ifstream(dir / "infini/config.json") >> infini;
  EXPECT_EQ(infini["model_type"], "infini_llama");
  EXPECT_EQ(infini["architectures"], json::array({"InfiniLlamaForCausalLM"}));
  EXPECT_EQ(infini["max_position_embeddings"], 4096);
  EXPECT_EQ(read_model_config(dir / "infini").layer_kind(0), AttentionKind::Infini);
  auto refused = test::run_infini("convert --from " + (dir / "infini") + " --to " + (dir / "back") + " --to-hf");
  EXPECT_EQ(refused.status, 2);
  EXPECT_NE(refused.output.find("every layer full"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir / "back"));
}

TEST(Convert, UnsupportedFamiliesAndMissingPiecesAreRefused) {
  test::TempDir dir;
  auto weights = random_weights(false);
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}}, "rope_scaling"},
      {{{"hidden_act", "gelu"}}, "hidden_act"},
      {{{"model_type", "mistral"}}, "model_type"},
      {{{"model_type", "infini_llama"}}, "needs an infini_attention object"},
      {{{"attention_bias", true}}, "attention_bias"},
  };
  for (const auto& [change, key] : cases) {
    auto config = hf_config(false);
    config.update(change);
    write_hf_directory(dir / key, weights, config);
    try {
      load_model(dir / key);
      ADD_FAILURE() << key << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  write_hf_directory(dir / "plain", weights, hf_config(false));
  fs::remove(dir / "plain/tokenizer.model");
  auto missing = test::run_infini("convert --from " + (dir / "plain") + " --to " + (dir / "out") +
                                  " --set model.infini_attention.kind=infini");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find("tokenizer.model"), std::string::npos) << missing.output;
  write_hf_directory(dir / "ok", weights, hf_config(false));
  auto wrong_key = test::run_infini("convert --from " + (dir / "ok") + " --to " + (dir / "out") + " --set train.steps=3");
  EXPECT_EQ(wrong_key.status, 2);
  EXPECT_NE(wrong_key.output.find("only model.* keys"), std::string::npos) << wrong_key.output;
  auto resized = test::run_infini("convert --from " + (dir / "ok") + " --to " + (dir / "out") +
                                  " --set model.hidden_size=64");
  EXPECT_EQ(resized.status, 2);
  EXPECT_NE(resized.output.find("only attention settings may change"), std::string::npos) << resized.output;
}

TEST(Convert, DefaultGatesStartCloseToTheSourceAndCanStillLearn) {
  // On the first segment the memory is empty, so each converted layer's attention output is
  // (1 − sigmoid(β)) times its source's. The default β keeps the model within a few percent of
  // its source where β = 0 halves every layer, and sigmoid′(β) stays far from the β = −10 desert.
  const double g = 1.0 / (1.0 + std::exp(-kConvertedGateInit));
  const double slope = g * (1.0 - g);
  std::cout << "converted gate β = " << kConvertedGateInit << ": sigmoid " << g << ", sigmoid' " << slope
            << " (at β = −10: " << 1.0 / (1.0 + std::exp(10.0)) * (1.0 - 1.0 / (1.0 + std::exp(10.0))) << ")\n";
  EXPECT_LT(g, 0.02);
  EXPECT_GT(slope, 0.01);

  auto source_config = test::tiny_config(AttentionKind::Full, 32);
  Decoder source(source_config);
  source->initialise(3);
  auto target = source_config;
  target.attention.kind = AttentionKind::Infini;
  torch::manual_seed(1);
  const auto tokens = torch::randint(source_config.vocab_size, {1, 32});
  auto relative_change = [&](Decoder converted) {
    torch::NoGradGuard no_grad;
    const auto before = source->forward(tokens, {}).first, after = converted->forward(tokens, {}).first;
    return ((after - before).norm() / before.norm()).item<double>();
  };
  const double by_default = relative_change(convert_weights(source, target));
  const double half_open = relative_change(convert_weights(source, target, 0.0));
  std::cout << "first-segment logits: relative change " << by_default << " by default, " << half_open << " at β = 0\n";
  EXPECT_LT(by_default, 0.05);
  EXPECT_GT(half_open, 5 * by_default);
}
