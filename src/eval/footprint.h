// Memory footprint of a model's long-context state, by the paper's Table 1 formulas, beside what
// was measured. Sizes are per sequence (batch row); H counts key/value heads.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "model/model_config.h"

namespace infini {

struct Footprint {
  int64_t memory_state_bytes = 0;             // infini layers: d_key·(d_value+1)·H·l, float32
  int64_t kv_cache_bytes_full_attention = 0;  // (d_key+d_value)·H·L·l at the document length L
  int64_t transformer_xl_bytes = 0;           // (d_key+d_value)·H·N·l, N the segment length
  int64_t length = 0;                         // L: the longest document's tokens
  int64_t segment_length = 0;                 // N
  int64_t parameters = 0;
  int64_t peak_rss_bytes = 0;
  int64_t peak_device_bytes = 0;

  // kv cache / memory state; 0 when the model keeps no compressive memory
  double compression_ratio() const;
  nlohmann::json to_json() const;
};

template <class F>
void fields(F& f, Footprint& p) {
  f("memory_state_bytes", p.memory_state_bytes, required_at_least(0));
  f("kv_cache_bytes_full_attention", p.kv_cache_bytes_full_attention, required_at_least(0));
  f("transformer_xl_bytes", p.transformer_xl_bytes, required_at_least(0));
  f("length", p.length, required_at_least(0));
  f("segment_length", p.segment_length, required_at_least(0));
  f("parameters", p.parameters, at_least(0));
  f("peak_rss_bytes", p.peak_rss_bytes, at_least(0));
  f("peak_device_bytes", p.peak_device_bytes, at_least(0));
}

// Elements of compressive memory per sequence: Σ over infini layers of d·(d+1)·kv_heads.
int64_t memory_state_elements(const ModelConfig& config);
// Elements of K and V that attention caches for `length` tokens in every layer: 2·d·kv_heads·length·layers.
int64_t kv_cache_elements(const ModelConfig& config, int64_t length);

// The formula sizes for documents of `length` tokens at `segment_length`, the caches in
// `cache_dtype` (the memory is always float32). Parameters and peaks are left 0.
Footprint formula_footprint(const ModelConfig& config, int64_t length, int64_t segment_length,
                            c10::ScalarType cache_dtype);

}  // namespace infini
