// A step's gradients between backward and the update: summed across ranks, measured, clipped.
#pragma once

#include <torch/torch.h>
#include <vector>

#include "train/communicator.h"

namespace infini {

// Sums every parameter's gradient across ranks in place (an undefined one counts as zeros) and
// returns the global L2 norm, in float64, before any clipping.
double reduce_gradients(std::vector<torch::Tensor>& parameters, Communicator& comm);

// Scales the gradients by max_norm / (norm + 1e-6) when norm exceeds max_norm (> 0), as
// torch.nn.utils.clip_grad_norm_ does.
void clip_gradients(std::vector<torch::Tensor>& parameters, double norm, double max_norm);

}  // namespace infini
