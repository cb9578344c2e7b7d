#include "model/model_config.h"

#include "core/errors.h"
#include "core/json_fields.h"

namespace infini {

AttentionKind ModelConfig::layer_kind(int64_t layer) const {
  return attention.layer_kinds.empty() ? attention.kind : attention.layer_kinds.at(layer);
}

bool ModelConfig::has_cache_layers() const {
  for (int64_t layer = 0; layer < num_hidden_layers; ++layer) {
    const auto kind = layer_kind(layer);
    if (kind == AttentionKind::Xl || kind == AttentionKind::Full) return true;
  }
  return false;
}

void ModelConfig::resolve_defaults() {
  if (num_key_value_heads == 0) num_key_value_heads = num_attention_heads;  // as Hugging Face's LlamaConfig
  if (head_dim == 0 && num_attention_heads > 0 && hidden_size % num_attention_heads == 0) {
    head_dim = hidden_size / num_attention_heads;
  }
}

AttentionOptions ModelConfig::attention_options(int64_t layer) const {
  AttentionOptions o;
  o.hidden_size = hidden_size;
  o.num_heads = num_attention_heads;
  o.num_kv_heads = num_key_value_heads;
  o.head_dim = resolved_head_dim();
  o.kind = layer_kind(layer);
  o.memory_update = attention.memory_update;
  o.memory_eps = attention.memory_eps;
  o.rope_theta = rope_theta;
  return o;
}

void ModelConfig::validate(const std::string& where) const {
  auto positive = [&](const char* key, int64_t value) {
    if (value <= 0) throw InputError(where + ": " + key + " is " + std::to_string(value) + ", expected a positive integer");
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("intermediate_size", intermediate_size);
  positive("infini_attention.segment_length", attention.segment_length);
  if (num_attention_heads % num_key_value_heads != 0) {
    throw InputError(where + ": num_attention_heads (" + std::to_string(num_attention_heads) +
                     ") must be a multiple of num_key_value_heads (" + std::to_string(num_key_value_heads) + ")");
  }
  if (head_dim == 0 && hidden_size % num_attention_heads != 0) {
    throw InputError(where + ": hidden_size must be a multiple of num_attention_heads when head_dim is not set");
  }
  if (resolved_head_dim() % 2 != 0) throw InputError(where + ": head_dim must be even for RoPE");
  if (!attention.layer_kinds.empty() && static_cast<int64_t>(attention.layer_kinds.size()) != num_hidden_layers) {
    throw InputError(where + ": infini_attention.layer_kinds has " + std::to_string(attention.layer_kinds.size()) +
                     " entries, expected one per layer (" + std::to_string(num_hidden_layers) + ")");
  }
  if (!(attention.memory_eps > 0)) throw InputError(where + ": infini_attention.memory_eps must be positive");
}

nlohmann::json model_config_to_json(const ModelConfig& config) {
  bool plain_llama = true;
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    plain_llama = plain_llama && config.layer_kind(layer) == AttentionKind::Full;
  }
  nlohmann::json json = {{"architectures", {plain_llama ? "LlamaForCausalLM" : "InfiniLlamaForCausalLM"}},
                         {"model_type", plain_llama ? "llama" : kInfiniModelType},
                         {"hidden_act", "silu"}};
  ModelConfig resolved = config;
  resolved.resolve_defaults();
  JsonFieldWriter writer(json);
  fields(writer, resolved);
  if (resolved.attention.layer_kinds.empty()) json["infini_attention"].erase("layer_kinds");
  return json;
}

namespace {

// The Llama family as this decoder computes it: SiLU MLP, no biases, plain RoPE. Anything else
// would load without error and compute something else, so it is refused by name.
void reject_unsupported_family(const nlohmann::json& json, const std::string& where) {
  auto is = [&](const char* key, auto value) { return json.contains(key) && json[key] == value; };
  if (json.contains("model_type") && !is("model_type", "llama") && !is("model_type", kInfiniModelType)) {
    throw InputError(where + ": model_type " + json["model_type"].dump() +
                     " is not supported (Llama-family checkpoints only: model_type \"llama\" or \"" +
                     kInfiniModelType + "\")");
  }
  const bool has_infini = json.contains("infini_attention") && !json["infini_attention"].is_null();
  if (is("model_type", kInfiniModelType) && !has_infini) {
    throw InputError(where + ": model_type \"" + kInfiniModelType + "\" needs an infini_attention object");
  }
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (json.contains(key) && !json[key].is_null()) {
      throw InputError(where + ": " + key + " " + json[key].dump() + " is not supported (only plain RoPE with rope_theta)");
    }
  }
  for (const char* key : {"hidden_act", "hidden_activation"}) {
    if (json.contains(key) && !is(key, "silu")) {
      throw InputError(where + ": " + key + " " + json[key].dump() + " is not supported (only silu)");
    }
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (is(key, true)) throw InputError(where + ": " + key + " true is not supported (bias-free projections only)");
  }
  if (json.contains("sliding_window") && !json["sliding_window"].is_null()) {
    throw InputError(where + ": sliding_window is not supported");
  }
}

// transformers 5 writes a plain RoPE as rope_parameters {"rope_type": "default", "rope_theta": θ}
// (earlier versions: rope_theta, and rope_scaling null) and the dtype as "dtype" (earlier:
// "torch_dtype"). Both spellings read as the earlier one; any other RoPE type stays refused.
nlohmann::json with_earlier_hf_keys(nlohmann::json json) {
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!json.contains(key) || !json[key].is_object()) continue;
    const auto& rope = json[key];
    const auto type = rope.value("rope_type", rope.value("type", std::string("default")));
    if (type != "default") continue;
    if (rope.contains("rope_theta") && !json.contains("rope_theta")) json["rope_theta"] = rope["rope_theta"];
    json.erase(key);
  }
  if (json.contains("dtype") && !json.contains("torch_dtype")) json["torch_dtype"] = json["dtype"];
  return json;
}

}  // namespace

ModelConfig model_config_from_json(const nlohmann::json& given, const std::string& where) {
  const auto json = with_earlier_hf_keys(given);
  reject_unsupported_family(json, where);
  // A run config may leave vocab_size to the tokenizer; a config.json must say it.
  const JsonReader checked(json, where);
  if (!checked.has("vocab_size")) checked.fail("vocab_size", "a whole number of at least 1");
  ModelConfig c;
  JsonFieldReader reader(checked);
  fields(reader, c);
  if (!json.contains("infini_attention") || json["infini_attention"].is_null()) {
    c.attention.kind = AttentionKind::Full;  // a plain Llama
  }
  c.resolve_defaults();
  c.validate(where);
  return c;
}

}  // namespace infini
