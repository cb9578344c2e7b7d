// The decoder's hyper-parameters: Hugging Face's LlamaConfig keys plus the "infini_attention"
// object of SPEC section 2, and their config.json form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attention/attention.h"

namespace infini {

struct InfiniAttentionConfig {
  AttentionKind kind = AttentionKind::Infini;
  int64_t segment_length = 2048;
  MemoryUpdate memory_update = MemoryUpdate::Linear;
  double memory_eps = 1e-6;
  std::vector<AttentionKind> layer_kinds;  // empty: every layer `kind`
  double gate_init = 0.0;                  // β at initialisation (not stored in config.json)
};

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 4;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  int64_t intermediate_size = 688;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  std::string torch_dtype = "float32";  // the dtype checkpoints are written in
  InfiniAttentionConfig attention;
  // Run configs only (never in config.json): start from this checkpoint's weights, converted to
  // this config's attention when the kinds differ (model/convert.h).
  std::string init_from;

  int64_t resolved_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  AttentionKind layer_kind(int64_t layer) const;
  AttentionOptions attention_options(int64_t layer) const;
  // Throws InputError naming `where` and the offending key when the values cannot build a model.
  void validate(const std::string& where) const;
};

// config.json. A config without "infini_attention" is a plain Llama: every layer `full`.
nlohmann::json model_config_to_json(const ModelConfig& config);
ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace infini
