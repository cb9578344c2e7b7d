#include "core/fused_linear.h"

namespace infini {

std::vector<torch::Tensor> fused_linear(const torch::Tensor& x, const std::vector<torch::Tensor>& weights) {
  TORCH_CHECK(!weights.empty(), "fused_linear: no weights");
  if (weights.size() == 1) return {torch::linear(x, weights[0])};
  std::vector<int64_t> widths;
  for (const auto& w : weights) widths.push_back(w.size(0));
  return torch::linear(x, torch::cat(weights, 0)).split_with_sizes(widths, -1);
}

}  // namespace infini
