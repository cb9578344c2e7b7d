#include "model/model_config.h"

#include "core/errors.h"

namespace infini {

namespace {

std::string memory_update_name(MemoryUpdate rule) { return rule == MemoryUpdate::Delta ? "delta" : "linear"; }

template <class T>
T read_key(const nlohmann::json& json, const std::string& key, const std::string& where, const T& fallback,
           bool required, const char* expected) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    if (required) throw InputError(where + ": missing key '" + key + "' (expected " + expected + ")");
    return fallback;
  }
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(where + ": key '" + key + "' is " + it->dump() + ", expected " + expected);
  }
}

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
  if (!json.is_object()) throw InputError(where + ": expected a JSON object");
  ModelConfig c;
  const char* integer = "an integer";
  const char* number = "a number";
  c.vocab_size = read_key<int64_t>(json, "vocab_size", where, 0, true, integer);
  c.hidden_size = read_key<int64_t>(json, "hidden_size", where, 0, true, integer);
  c.num_hidden_layers = read_key<int64_t>(json, "num_hidden_layers", where, 0, true, integer);
  c.num_attention_heads = read_key<int64_t>(json, "num_attention_heads", where, 0, true, integer);
  c.num_key_value_heads = read_key<int64_t>(json, "num_key_value_heads", where, c.num_attention_heads, false, integer);
  c.head_dim = read_key<int64_t>(json, "head_dim", where, 0, false, integer);
  c.intermediate_size = read_key<int64_t>(json, "intermediate_size", where, 0, true, integer);
  c.rms_norm_eps = read_key<double>(json, "rms_norm_eps", where, 1e-6, false, number);
  c.rope_theta = read_key<double>(json, "rope_theta", where, 10000.0, false, number);
  c.tie_word_embeddings = read_key<bool>(json, "tie_word_embeddings", where, false, false, "true or false");
  c.bos_token_id = read_key<int64_t>(json, "bos_token_id", where, 1, false, integer);
  c.eos_token_id = read_key<int64_t>(json, "eos_token_id", where, 2, false, integer);
  c.torch_dtype = read_key<std::string>(json, "torch_dtype", where, "float32", false, "a dtype name");
  if (c.torch_dtype == "float16") c.torch_dtype = "float32";  // read as float32; we write no fp16

  auto infini = json.find("infini_attention");
  if (infini == json.end() || infini->is_null()) {
    c.attention.kind = AttentionKind::Full;  // a plain Llama
    c.attention.segment_length = 2048;
  } else {
    std::string inner = where + ": infini_attention";
    if (!infini->is_object()) throw InputError(inner + ": expected an object");
    c.attention.kind = read_kind(read_key<std::string>(*infini, "kind", inner, "", true, "a kind name"), where,
                                 "infini_attention.kind");
    c.attention.segment_length = read_key<int64_t>(*infini, "segment_length", inner, 0, true, integer);
    auto rule = read_key<std::string>(*infini, "memory_update", inner, "linear", false, "linear or delta");
    if (rule != "linear" && rule != "delta") {
      throw InputError(where + ": infini_attention.memory_update is '" + rule + "', expected linear or delta");
    }
    c.attention.memory_update = rule == "delta" ? MemoryUpdate::Delta : MemoryUpdate::Linear;
    c.attention.memory_eps = read_key<double>(*infini, "memory_eps", inner, 1e-6, false, number);
    auto kinds = read_key<std::vector<std::string>>(*infini, "layer_kinds", inner, {}, false, "a list of kind names");
    for (const auto& name : kinds) c.attention.layer_kinds.push_back(read_kind(name, where, "infini_attention.layer_kinds"));
  }
  reject_unsupported_family(json, where);
  c.validate(where);
  return c;
}

}  // namespace infini
