// Memory footprint of a model's long-context state, by the paper's Table 1 formulas, beside what
// was measured. Sizes are per sequence (batch row).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "model/model_config.h"

namespace infini {

struct Footprint {
  int64_t memory_state_bytes = 0;             // infini layers: d_key·(d_value+1)·H·l, float32
  int64_t kv_cache_bytes_full_attention = 0;  // (d_key+d_value)·H·L·l at the longest document
  int64_t parameters = 0;
  int64_t peak_rss_bytes = 0;
  int64_t peak_device_bytes = 0;

  // kv cache / memory state; 0 when the model keeps no compressive memory
  double compression_ratio() const;
  nlohmann::json to_json() const;
};

// Elements of compressive memory per sequence: Σ over infini layers of d·(d+1)·kv_heads.
int64_t memory_state_elements(const ModelConfig& config);
// Elements of K and V that full attention caches for `length` tokens: 2·d·kv_heads·length·layers.
int64_t kv_cache_elements(const ModelConfig& config, int64_t length);

}  // namespace infini
