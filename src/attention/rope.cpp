#include "attention/rope.h"

namespace infini {

torch::Tensor apply_rope(const torch::Tensor& x, int64_t first_position, double theta) {
  const int64_t length = x.size(2);
  const int64_t dim = x.size(3);
  // Angles in float64: positions reach 10^6 for `full` attention over long documents, where
  // float32 products would lose the low bits of the phase.
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(x.device());
  auto inv_freq = torch::pow(theta, -torch::arange(0, dim, 2, f64) / static_cast<double>(dim));
  auto positions = torch::arange(first_position, first_position + length, f64);
  auto angles = torch::outer(positions, inv_freq);
  angles = torch::cat({angles, angles}, -1);
  auto cos = angles.cos().to(x.scalar_type());
  auto sin = angles.sin().to(x.scalar_type());
  auto halves = x.chunk(2, -1);
  auto rotated = torch::cat({-halves[1], halves[0]}, -1);
  return x * cos + rotated * sin;
}

}  // namespace infini
