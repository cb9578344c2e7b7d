#include "model/flops.h"

namespace infini {

double attention_flops(const AttentionOptions& o, int64_t n, int64_t past) {
  const double d = o.head_dim, h = o.num_heads, hkv = o.num_kv_heads, D = o.hidden_size;
  double flops = 2.0 * n * D * (2 * h * d + 2 * hkv * d);  // q, k, v, o projections
  const double pairs = static_cast<double>(n) * past + n * (n + 1) / 2.0;
  flops += 2.0 * 2.0 * pairs * d * h;                      // Q·Kᵀ and P·V
  if (o.kind == AttentionKind::Infini) {
    flops += 2.0 * n * d * d * h + 2.0 * n * d * d * hkv;  // Eq. 7 read, Eq. 8 update
    if (o.memory_update == MemoryUpdate::Delta) flops += 2.0 * n * d * d * hkv;
  }
  return flops;
}

double forward_flops_per_token(const ModelConfig& config, int64_t context) {
  const int64_t n = config.attention.segment_length;
  const double D = config.hidden_size;
  double flops = 2.0 * D * config.vocab_size;                                 // lm_head
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const auto o = config.attention_options(layer);
    flops += 2.0 * 3.0 * D * config.intermediate_size;                        // SwiGLU MLP
    int64_t past = 0;
    if (o.kind == AttentionKind::Xl) past = n;
    if (o.kind == AttentionKind::Full) past = std::max<int64_t>(0, context - n) / 2;  // the average position
    flops += attention_flops(o, n, past) / static_cast<double>(n);
  }
  return flops;
}

}  // namespace infini
