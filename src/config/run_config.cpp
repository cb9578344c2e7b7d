#include "config/run_config.h"

#include <filesystem>

#include "config/fields.h"

namespace infini {

namespace {

const Choices<AttentionKind> kAttentionKinds = {{"infini", AttentionKind::Infini},
                                                {"local", AttentionKind::Local},
                                                {"xl", AttentionKind::Xl},
                                                {"full", AttentionKind::Full}};
const Choices<MemoryUpdate> kMemoryUpdates = {{"linear", MemoryUpdate::Linear}, {"delta", MemoryUpdate::Delta}};
const Choices<torch::ScalarType> kDtypes = {{"float32", torch::kFloat32}, {"bfloat16", torch::kBFloat16}};
const Choices<std::string> kStorageDtypes = {{"float32", "float32"}, {"bfloat16", "bfloat16"}};

}  // namespace

template <class F>
void fields(F& f, InfiniAttentionConfig& c) {
  f.choice("kind", c.kind, kAttentionKinds);
  f("segment_length", c.segment_length, at_least(1));
  f.choice("memory_update", c.memory_update, kMemoryUpdates);
  f("memory_eps", c.memory_eps, between(1e-30, 1.0));
  f.choice_list("layer_kinds", c.layer_kinds, kAttentionKinds);
  f("gate_init", c.gate_init, between(-1e4, 1e4));
}

template <class F>
void fields(F& f, ModelConfig& c) {
  f("vocab_size", c.vocab_size, at_least(0));  // 0: the tokenizer's size
  f("hidden_size", c.hidden_size, required_at_least(1));
  f("num_hidden_layers", c.num_hidden_layers, required_at_least(1));
  f("num_attention_heads", c.num_attention_heads, required_at_least(1));
  f("num_key_value_heads", c.num_key_value_heads, at_least(1));
  f("head_dim", c.head_dim, at_least(0));
  f("intermediate_size", c.intermediate_size, at_least(1));
  f("rms_norm_eps", c.rms_norm_eps, between(0.0, 1.0));
  f("rope_theta", c.rope_theta, at_least(1.0));
  f("tie_word_embeddings", c.tie_word_embeddings);
  f("bos_token_id", c.bos_token_id, at_least(0));
  f("eos_token_id", c.eos_token_id, at_least(0));
  f.choice("torch_dtype", c.torch_dtype, kStorageDtypes);
  f.section("infini_attention", c.attention);
}

template <class F>
void fields(F& f, DataSection& c) {
  f("tokenizer", c.tokenizer);
  f("train", c.train);
  f("validation", c.validation);
}

template <class F>
void fields(F& f, EvalSection& c) {
  f("segment_length", c.segment_length, at_least(0));
  f("memory", c.memory);
  f("bucket_width", c.bucket_width, at_least(1));
}

template <class F>
void fields(F& f, RunSection& c) {
  f("dir", c.dir);
  f("seed", c.seed, at_least(0));
  f("device", c.device);
  f("threads", c.threads, between(0, 1024));
  f.choice("dtype", c.dtype, kDtypes);
}

template <class F>
void fields(F& f, RunConfig& c) {
  f.section("model", c.model, required_key());
  f.section("data", c.data);
  f.section("eval", c.eval);
  f.section("run", c.run);
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (!std::filesystem::is_regular_file(path)) throw InputError(path + ": no such config file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw InputError(path + ": not valid YAML (" + e.what() + ")");
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw InputError(path + ": expected a mapping of sections at the top level");
  for (const auto& assignment : overrides) apply_override(root, assignment);

  RunConfig config;
  // num_key_value_heads defaults to num_attention_heads, as in HF's LlamaConfig.
  config.model.num_key_value_heads = 0;
  FieldReader reader(root, "", path);
  fields(reader, config);
  reader.finish();
  if (config.model.num_key_value_heads == 0) config.model.num_key_value_heads = config.model.num_attention_heads;
  ModelConfig checked = config.model;
  if (checked.vocab_size == 0) checked.vocab_size = 1;  // filled from the tokenizer later
  checked.validate(path + ": model");
  return config;
}

std::string resolved_yaml(const RunConfig& config) {
  YAML::Node root(YAML::NodeType::Map);
  FieldWriter writer(root);
  RunConfig copy = config;
  fields(writer, copy);
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace infini
