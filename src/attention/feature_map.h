// The compressive memory's feature map σ(x) = ELU(x) + 1 (Katharopoulos et al. 2020), which keeps
// memory reads positive: x + 1 for x > 0, eˣ otherwise; its derivative is min(σ(x), 1).
//
// The memory runs in float32 (float64 for float64) whatever the compute dtype, so its queries and
// keys are cast first: on the CPU one pass reads them in their dtype and layout (a head's columns
// of the q/k/v projection) and writes σ contiguous in the memory's dtype, and one pass goes back;
// ATen 1.13 takes a cast, a copy, the ELU and the addition forward and as many backward. A
// backward that builds a graph (create_graph) goes through ATen's ops, as do other devices.
#pragma once

#include <torch/torch.h>

namespace infini {

// σ(x) in `dtype` (float32 or float64, at least x's precision), contiguous.
torch::Tensor elu_plus_one(const torch::Tensor& x, torch::ScalarType dtype);
inline torch::Tensor elu_plus_one(const torch::Tensor& x) { return elu_plus_one(x, x.scalar_type()); }

}  // namespace infini
