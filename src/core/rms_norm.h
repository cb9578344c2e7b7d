// RMS normalisation, y = w · x / √(mean(x²) + ε) over the last dimension, as one pass forward
// and one backward.
//
// ATen 1.13 runs the formula as six passes forward (square, mean, add, rsqrt, two products) and
// about twice that backward, each a parallel region of its own over a tensor a segment wide. On
// the CPU in float32 and float64 with the weight in the same dtype, the loops compute in that
// dtype and may round the result once to bfloat16 (what autocast's cast before the next matrix
// multiply would do: the same bits, one pass fewer each way); elsewhere, and for a backward that
// builds a graph (create_graph), the ATen formula.
#pragma once

#include <torch/torch.h>

namespace infini {

// x: [..., D], weight: [D]. The result has `output_dtype`: x's dtype, or bfloat16 where x is
// float32.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                       torch::ScalarType output_dtype);

}  // namespace infini
