#include "eval/footprint.h"

#include "core/json_fields.h"

namespace infini {

int64_t memory_state_elements(const ModelConfig& config) {
  const int64_t d = config.resolved_head_dim();
  int64_t total = 0;
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    if (config.layer_kind(layer) == AttentionKind::Infini) total += d * (d + 1) * config.num_key_value_heads;
  }
  return total;
}

int64_t kv_cache_elements(const ModelConfig& config, int64_t length) {
  return 2 * config.resolved_head_dim() * config.num_key_value_heads * length * config.num_hidden_layers;
}

Footprint formula_footprint(const ModelConfig& config, int64_t length, int64_t segment_length,
                            c10::ScalarType cache_dtype) {
  const auto element = static_cast<int64_t>(c10::elementSize(cache_dtype));
  Footprint footprint;
  footprint.memory_state_bytes = memory_state_elements(config) * static_cast<int64_t>(sizeof(float));
  footprint.kv_cache_bytes_full_attention = kv_cache_elements(config, length) * element;
  footprint.transformer_xl_bytes = kv_cache_elements(config, segment_length) * element;
  footprint.length = length;
  footprint.segment_length = segment_length;
  return footprint;
}

double Footprint::compression_ratio() const {
  if (memory_state_bytes == 0) return 0.0;
  return static_cast<double>(kv_cache_bytes_full_attention) / static_cast<double>(memory_state_bytes);
}

nlohmann::json Footprint::to_json() const {
  Footprint copy = *this;
  auto json = JsonFieldWriter::to_json_object(copy);
  json["compression_ratio"] = compression_ratio();
  return json;
}

}  // namespace infini
