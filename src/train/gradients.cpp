#include "train/gradients.h"

#include <cmath>

namespace infini {

double reduce_gradients(std::vector<torch::Tensor>& parameters, Communicator& comm) {
  std::vector<torch::Tensor> grads;
  for (auto& p : parameters) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  comm.sum(grads);
  double squares = 0.0;
  for (const auto& g : grads) squares += g.to(torch::kFloat64).pow(2).sum().item<double>();
  return std::sqrt(squares);
}

void clip_gradients(std::vector<torch::Tensor>& parameters, double norm, double max_norm) {
  if (max_norm <= 0 || norm <= max_norm) return;
  const double scale = max_norm / (norm + 1e-6);
  torch::NoGradGuard no_grad;
  for (auto& p : parameters) p.grad().mul_(scale);
}

}  // namespace infini
