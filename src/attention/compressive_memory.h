// The compressive memory of Infini-attention (Munkhdalai et al. 2024, section 2.1.2): per
// key/value head a d×d matrix M and a normaliser z, read with ELU+1 linear attention (Eq. 7) and
// updated after each segment by the linear (Eq. 8) or delta (Eq. 9) rule.
//
// The state is a plain value passed in and returned; M and z are float32 whatever the compute
// dtype (float64 when computing in float64, for reference tests), since their sums grow with
// every segment and overflow bf16 over long documents.
#pragma once

#include <torch/torch.h>

#include "core/schema.h"

namespace infini {

enum class MemoryUpdate { Linear, Delta };
inline const Choices<MemoryUpdate> kMemoryUpdateNames = {{"linear", MemoryUpdate::Linear}, {"delta", MemoryUpdate::Delta}};

// The dtype sums are kept in: float32 for float32/bf16/fp16 compute, float64 for float64.
torch::ScalarType accumulation_dtype(torch::ScalarType compute);

struct MemoryState {
  torch::Tensor matrix;      // M: [batch, kv_heads, d_key, d_value]
  torch::Tensor normalizer;  // z: [batch, kv_heads, d_key]

  static MemoryState zeros(int64_t batch, int64_t kv_heads, int64_t head_dim, const torch::TensorOptions& options);
  bool defined() const { return matrix.defined(); }
  MemoryState detached() const;
  int64_t bytes() const;
};

// An empty memory (undefined tensors: before a document's first segment) is M = 0, z = 0 without
// the arithmetic: it reads exactly zero, and both rules write σ(K)ᵀ·V into it (the delta rule's
// retrieval is zero), so a step that starts from nothing skips a quarter of a 4-segment
// sequence's memory work and gets the same numbers and gradients as from MemoryState::zeros.

// Eq. 7: A_mem = σ(Q)·M / (σ(Q)·z + ε), σ = ELU + 1 (attention/feature_map.h).
// sigma_q: [batch, kv_heads, rows, d_key] (rows = the query heads of a group times the segment
// length, so grouped-query heads read their key/value head's memory without a copy of M); the
// read has d_value = d_key columns.
torch::Tensor memory_retrieve(const MemoryState& memory, const torch::Tensor& sigma_q, double eps);

// Eq. 8 (linear): M ← M + σ(K)ᵀ·V.  Eq. 9 (delta): M ← M + σ(K)ᵀ·(V − σ(K)·M / (σ(K)·z + ε)).
// Both: z ← z + Σ_t σ(K_t).  sigma_k, values: [batch, kv_heads, length, d], in the memory's dtype.
MemoryState memory_update(const MemoryState& memory, const torch::Tensor& sigma_k,
                          const torch::Tensor& values, MemoryUpdate rule, double eps);

}  // namespace infini
