#include "model/model_config.h"

#include <limits>

#include "core/errors.h"
#include "core/json_reader.h"

namespace infini {

namespace {

std::string memory_update_name(MemoryUpdate rule) { return rule == MemoryUpdate::Delta ? "delta" : "linear"; }

AttentionKind read_kind(const std::string& name, const std::string& where, const std::string& key) {
  auto kind = parse_attention_kind(name);
  if (!kind) throw InputError(where + ": " + key + " is '" + name + "', expected one of infini, local, xl, full");
  return *kind;
}

}  // namespace

AttentionKind ModelConfig::layer_kind(int64_t layer) const {
  return attention.layer_kinds.empty() ? attention.kind : attention.layer_kinds.at(layer);
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
  o.gate_init = attention.gate_init;
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
  if (torch_dtype != "float32" && torch_dtype != "bfloat16") {
    throw InputError(where + ": torch_dtype is '" + torch_dtype + "', expected float32 or bfloat16");
  }
}

nlohmann::json model_config_to_json(const ModelConfig& c) {
  nlohmann::json json = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"head_dim", c.resolved_head_dim()},
      {"intermediate_size", c.intermediate_size},
      {"hidden_act", "silu"},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"bos_token_id", c.bos_token_id},
      {"eos_token_id", c.eos_token_id},
      {"torch_dtype", c.torch_dtype},
  };
  nlohmann::json infini = {
      {"kind", attention_kind_name(c.attention.kind)},
      {"segment_length", c.attention.segment_length},
      {"memory_update", memory_update_name(c.attention.memory_update)},
      {"memory_eps", c.attention.memory_eps},
  };
  if (!c.attention.layer_kinds.empty()) {
    auto kinds = nlohmann::json::array();
    for (auto kind : c.attention.layer_kinds) kinds.push_back(attention_kind_name(kind));
    infini["layer_kinds"] = kinds;
  }
  json["infini_attention"] = infini;
  return json;
}

namespace {

// The Llama family as this decoder computes it: SiLU MLP, no biases, plain RoPE. Anything else
// would load without error and compute something else, so it is refused by name.
void reject_unsupported_family(const nlohmann::json& json, const std::string& where) {
  auto is = [&](const char* key, auto value) { return json.contains(key) && json[key] == value; };
  if (json.contains("model_type") && !is("model_type", "llama")) {
    throw InputError(where + ": model_type '" + json["model_type"].dump() +
                     "' is not supported (Llama-family checkpoints only: model_type \"llama\")");
  }
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null()) {
    throw InputError(where + ": rope_scaling is not supported (only plain RoPE with rope_theta)");
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

}  // namespace

ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& where) {
  const JsonReader r(json, where);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ModelConfig c;
  c.vocab_size = r.integer("vocab_size", 1, kMax);
  c.hidden_size = r.integer("hidden_size", 1, kMax);
  c.num_hidden_layers = r.integer("num_hidden_layers", 1, kMax);
  c.num_attention_heads = r.integer("num_attention_heads", 1, kMax);
  c.num_key_value_heads = r.integer_or("num_key_value_heads", c.num_attention_heads, 1, kMax);
  c.head_dim = r.integer_or("head_dim", 0, 0, kMax);
  c.intermediate_size = r.integer("intermediate_size", 1, kMax);
  c.rms_norm_eps = r.number_or("rms_norm_eps", 1e-6);
  c.rope_theta = r.number_or("rope_theta", 10000.0);
  c.tie_word_embeddings = r.boolean_or("tie_word_embeddings", false);
  c.bos_token_id = r.integer_or("bos_token_id", 1);
  c.eos_token_id = r.integer_or("eos_token_id", 2);
  c.torch_dtype = r.text_or("torch_dtype", "float32");
  if (c.torch_dtype == "float16") c.torch_dtype = "float32";  // read as float32; we write no fp16

  if (!r.has("infini_attention")) {
    c.attention.kind = AttentionKind::Full;  // a plain Llama
    c.attention.segment_length = 2048;
  } else {
    const JsonReader infini = r.object("infini_attention");
    c.attention.kind = read_kind(infini.text("kind"), where, "infini_attention.kind");
    c.attention.segment_length = infini.integer("segment_length", 1, kMax);
    const auto rule = infini.text_or("memory_update", "linear");
    if (rule != "linear" && rule != "delta") {
      throw InputError(where + ": infini_attention.memory_update is '" + rule + "', expected linear or delta");
    }
    c.attention.memory_update = rule == "delta" ? MemoryUpdate::Delta : MemoryUpdate::Linear;
    c.attention.memory_eps = infini.number_or("memory_eps", 1e-6);
    for (const auto& name : infini.texts_or("layer_kinds")) {
      c.attention.layer_kinds.push_back(read_kind(name, where, "infini_attention.layer_kinds"));
    }
  }
  reject_unsupported_family(json, where);
  c.validate(where);
  return c;
}

}  // namespace infini
