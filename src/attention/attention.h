// Multi-head attention with grouped-query heads, in the four kinds of attention_kind.h.
//
// One call processes one segment: [batch, length, hidden] in, the same shape out, plus the
// layer's state for the next segment. The state is a value owned by the caller, never a module
// buffer, so callers can carry it, detach it, or reset rows at document boundaries.
#pragma once

#include <torch/torch.h>

#include "attention/attention_kind.h"
#include "attention/compressive_memory.h"

namespace infini {

struct AttentionOptions {
  int64_t hidden_size = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  AttentionKind kind = AttentionKind::Infini;
  MemoryUpdate memory_update = MemoryUpdate::Linear;
  double memory_eps = 1e-6;
  double rope_theta = 10000.0;
};

// What a layer carries from one segment to the next.
struct AttentionState {
  MemoryState memory;     // infini: M and z
  torch::Tensor keys;     // xl: the previous segment's (detached); full: all earlier ones. Pre-RoPE.
  torch::Tensor values;

  AttentionState detached() const;
  // Zeroes the carried state of the batch rows where `reset` ([batch] bool) is true.
  AttentionState reset_rows(const torch::Tensor& reset) const;
  int64_t bytes() const;
};

// softmax(Q·Kᵀ/√d + causal mask)·V with query heads grouped onto key/value heads.
// q: [batch, heads, length, d]; k, v: [batch, kv_heads, past + length, d]; query i sits at
// position past + i and sees keys 0..past + i. Query rows are processed in blocks of
// `block_rows` (0: sized so a block's scores stay about 4 MiB per key/value head). On CUDA with
// LibTorch 2.5 or later and block_rows 0, the fused at::scaled_dot_product_attention runs instead.
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t past,
                               int64_t block_rows = 0);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& options);

  // x: [batch, segments · length, hidden], `segments` consecutive segments of one length (local and
  // infini only): the same as `segments` calls in order, carrying the state, but with the
  // projections and the local attention of all of them batched into larger matrix products.
  std::pair<torch::Tensor, AttentionState> forward(const torch::Tensor& x, const AttentionState& state,
                                                   int64_t segments = 1);

  const AttentionOptions& options() const { return options_; }
  // Per query head sigmoid(β): the share of the memory read in each head's output (Eq. 10).
  torch::Tensor gate_values() const;

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::Tensor gate;  // β, [num_heads]; defined for infini layers only

  // Diagnostics (`eval passkey`): while `record_mix` is set, an infini layer's forward call keeps
  // the norms of the two terms Eq. 10 adds at its last position (the last batch row's last token),
  // per query head: g·A_mem and (1 − g)·A_dot, float64 on the CPU.
  struct Mix {
    torch::Tensor from_memory, local;  // [num_heads]
  };
  bool record_mix = false;
  Mix last_mix;

 private:
  AttentionOptions options_;
};
TORCH_MODULE(Attention);

}  // namespace infini
