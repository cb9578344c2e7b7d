#include "attention/compressive_memory.h"

#include "attention/memory_read.h"
#include "core/batched_matmul.h"

namespace infini {

MemoryState MemoryState::zeros(int64_t batch, int64_t kv_heads, int64_t head_dim,
                               const torch::TensorOptions& options) {
  return {torch::zeros({batch, kv_heads, head_dim, head_dim}, options),
          torch::zeros({batch, kv_heads, head_dim}, options)};
}

torch::ScalarType accumulation_dtype(torch::ScalarType compute) {
  return compute == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

MemoryState MemoryState::detached() const {
  if (!defined()) return {};
  return {matrix.detach(), normalizer.detach()};
}

int64_t MemoryState::bytes() const {
  if (!defined()) return 0;
  return matrix.numel() * matrix.element_size() + normalizer.numel() * normalizer.element_size();
}

torch::Tensor memory_retrieve(const MemoryState& memory, const torch::Tensor& sigma_q, double eps) {
  if (!memory.defined()) return torch::zeros_like(sigma_q);  // σ(Q)·0 / (σ(Q)·0 + ε), and no gradient
  return memory_read(memory.matrix, memory.normalizer, sigma_q, eps);  // Eq. 7
}

MemoryState memory_update(const MemoryState& memory, const torch::Tensor& sigma_k,
                          const torch::Tensor& values, MemoryUpdate rule, double eps) {
  auto sigma_k_t = sigma_k.transpose(-1, -2);
  if (!memory.defined()) return {batched_matmul(sigma_k_t, values), sigma_k.sum(-2)};  // 0 + the first write
  torch::Tensor written = values;
  if (rule == MemoryUpdate::Delta) {
    // Eq. 9: write only what the memory does not already return for these keys.
    written = values - memory_retrieve(memory, sigma_k, eps);
  }
  auto matrix = memory.matrix + batched_matmul(sigma_k_t, written);  // Eq. 8 / 9
  auto normalizer = memory.normalizer + sigma_k.sum(-2);
  return {matrix, normalizer};
}

}  // namespace infini
