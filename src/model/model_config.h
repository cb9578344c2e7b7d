// The decoder's hyper-parameters: Hugging Face's LlamaConfig keys plus the "infini_attention"
// object of SPEC section 2. One schema, `fields` below, serves the run config's `model` section
// (YAML) and config.json alike, with Hugging Face's defaults where it has them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "core/schema.h"

namespace infini {

struct InfiniAttentionConfig {
  AttentionKind kind = AttentionKind::Infini;
  int64_t segment_length = 2048;
  MemoryUpdate memory_update = MemoryUpdate::Linear;
  double memory_eps = 1e-6;
  std::vector<AttentionKind> layer_kinds;  // empty: every layer `kind`
};

// The dtype checkpoints are written in. Hugging Face's float16 checkpoints load as float32 (this
// framework computes in float32 or bfloat16 and writes no float16).
inline const Choices<torch::ScalarType> kStorageDtypeNames = {
    {"float32", torch::kFloat32}, {"bfloat16", torch::kBFloat16}, {"float16", torch::kFloat32}};

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 0;  // 0: num_attention_heads (resolved when read)
  int64_t head_dim = 0;             // 0: hidden_size / num_attention_heads (resolved when read)
  int64_t intermediate_size = 11008;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  // The positions the weights were pre-trained on with full attention (Hugging Face's default
  // 2048; an import keeps its source's). Infini layers see positions only inside a segment; the
  // value travels so that `convert --to-hf` gives it back.
  int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  torch::ScalarType torch_dtype = torch::kFloat32;  // kStorageDtypeNames
  InfiniAttentionConfig attention;

  int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  AttentionKind layer_kind(int64_t layer) const;
  // Whether some layer is xl or full: its cache grows with the context or follows one row's
  // segments, so it cannot be carried across training rows.
  bool has_cache_layers() const;
  AttentionOptions attention_options(int64_t layer) const;
  // Throws InputError naming `where` and the offending key when the values cannot build a model.
  void validate(const std::string& where) const;
  // Fills the zeros that stand for derived values (num_key_value_heads, head_dim).
  void resolve_defaults();
};

template <class F>
void fields(F& f, InfiniAttentionConfig& c) {
  f.choice("kind", c.kind, kAttentionKindNames);
  f("segment_length", c.segment_length, at_least(1));
  f.choice("memory_update", c.memory_update, kMemoryUpdateNames);
  f("memory_eps", c.memory_eps, between(1e-30, 1.0));
  f.choice_list("layer_kinds", c.layer_kinds, kAttentionKindNames);
}

template <class F>
void fields(F& f, ModelConfig& c) {
  f("vocab_size", c.vocab_size, at_least(0));  // 0 in a run config: the tokenizer's size
  f("hidden_size", c.hidden_size, required_at_least(1));
  f("num_hidden_layers", c.num_hidden_layers, required_at_least(1));
  f("num_attention_heads", c.num_attention_heads, required_at_least(1));
  f("num_key_value_heads", c.num_key_value_heads, at_least(0));
  f("head_dim", c.head_dim, at_least(0));
  f("intermediate_size", c.intermediate_size, at_least(1));
  f("rms_norm_eps", c.rms_norm_eps, between(0.0, 1.0));
  f("rope_theta", c.rope_theta, at_least(1.0));
  f("max_position_embeddings", c.max_position_embeddings, at_least(1));
  f("tie_word_embeddings", c.tie_word_embeddings);
  f("bos_token_id", c.bos_token_id, at_least(0));
  f("eos_token_id", c.eos_token_id, at_least(0));
  f.choice("torch_dtype", c.torch_dtype, kStorageDtypeNames);
  f.section("infini_attention", c.attention);
}

// config.json. A config without "infini_attention" is a plain Llama: every layer `full`. A model
// with any layer that is not `full` is written as model_type "infini_llama" (architecture
// InfiniLlamaForCausalLM), so that Hugging Face loaders refuse it (AutoConfig) or warn (an
// explicit LlamaForCausalLM) instead of silently computing full attention without the gates and
// memory; both model types are read here.
inline constexpr const char* kInfiniModelType = "infini_llama";
nlohmann::json model_config_to_json(const ModelConfig& config);
ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace infini
