// The small whole model both benchmarks measure: 4 infini layers, 4 heads of 64, 8000 pieces.
#pragma once

#include "model/model_config.h"

namespace infini::bench {

inline ModelConfig small_model_config(int64_t segment_length) {
  ModelConfig config;
  config.vocab_size = 8000;
  config.hidden_size = 256;
  config.num_hidden_layers = 4;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 4;
  config.intermediate_size = 688;
  config.attention.segment_length = segment_length;
  return config;
}

}  // namespace infini::bench
