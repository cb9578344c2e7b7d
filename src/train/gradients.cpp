#include "train/gradients.h"

#include <cmath>

#include "core/vector_math.h"

namespace infini {

namespace {

// Σ g² over a float32 array, summed in float64 in one pass. Casting each gradient to float64 and
// squaring it through ATen wrote two float64 copies of every gradient a step: on issue 15's 7.3M
// parameters 100 ms against 0.8 ms this way (2-core EPYC, 2026-12-02), a fifth of a bfloat16 step.
INFINI_VECTOR_CLONES double float_squares(const float* data, int64_t count) {
  return vec::sum<double>(count, [&](int64_t i) {
    const double v = data[i];
    return v * v;
  });
}

double squares(const torch::Tensor& grad) {
  if (grad.device().is_cpu() && grad.scalar_type() == torch::kFloat32 && grad.is_contiguous()) {
    return float_squares(grad.data_ptr<float>(), grad.numel());
  }
  return grad.to(torch::kFloat64).pow(2).sum().item<double>();
}

}  // namespace

double reduce_gradients(std::vector<torch::Tensor>& parameters, Communicator& comm) {
  std::vector<torch::Tensor> grads;
  for (auto& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  comm.sum(grads);
  double total = 0.0;
  for (const auto& g : grads) total += squares(g);
  return std::sqrt(total);
}

void clip_gradients(std::vector<torch::Tensor>& parameters, double norm, double max_norm) {
  if (max_norm <= 0 || norm <= max_norm) return;
  const double scale = max_norm / (norm + 1e-6);
  torch::NoGradGuard no_grad;
  for (auto& p : parameters) p.grad().mul_(scale);
}

}  // namespace infini
