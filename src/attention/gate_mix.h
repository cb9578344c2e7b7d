// Eq. 10 of the paper: a learned gate per head mixes the memory's read with local attention,
// A = g·A_mem + (1 − g)·A_dot with g = sigmoid(gate), and the heads go side by side for the
// output projection.
//
// The result is in local attention's dtype, which is the dtype the projection takes (bfloat16
// under autocast, where the float32 mix would be cast to it next: the same bits). On the CPU one
// pass writes it in that layout, [rows, length, heads · d], and one pass backward gives both
// inputs' gradients and the gate's; ATen 1.13 takes the sigmoid, a cast, three products and
// sums, the transposing copy and autocast's cast, and about twice that backward. Served: the
// memory's read in float32 with local attention in float32 or bfloat16, or both in float64;
// otherwise, and for a backward that builds a graph, ATen's ops.
#pragma once

#include <torch/torch.h>

namespace infini {

// gate: [heads]; from_memory, local: [rows, heads, length, d]. Returns [rows, length, heads · d].
torch::Tensor gate_mix(const torch::Tensor& gate, const torch::Tensor& from_memory, const torch::Tensor& local);

}  // namespace infini
