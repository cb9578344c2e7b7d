#include "core/fused_linear.h"

namespace infini {

torch::Tensor joined_linear(const torch::Tensor& x, const std::vector<torch::Tensor>& weights) {
  TORCH_CHECK(!weights.empty(), "fused_linear: no weights");
  return torch::linear(x, weights.size() == 1 ? weights[0] : torch::cat(weights, 0));
}

std::vector<torch::Tensor> fused_linear(const torch::Tensor& x, const std::vector<torch::Tensor>& weights) {
  if (weights.size() == 1) return {joined_linear(x, weights)};
  std::vector<int64_t> widths;
  for (const auto& w : weights) widths.push_back(w.size(0));
  return joined_linear(x, weights).split_with_sizes(widths, -1);
}

}  // namespace infini
