// The compressive memory's read, Eq. 7: A = σ(Q)·M / (σ(Q)·z + ε), per key/value head.
//
// ATen takes it as a stack of matrix products, a stack of matrix-vector products (which ATen
// 1.13 runs as one tiny product per head), an addition and a division forward, and twice as many
// steps backward: about 1.7 ms a read on issue 15's model where its three products need 0.6. On
// the CPU, in float32 or float64, one pass per head does it instead: the product σ(Q)·M, the
// denominators and the division forward; backward the two products Gₙ·Mᵀ and σ(Q)ᵀ·Gₙ
// (Gₙ = G / den) with the denominator's part (−Σⱼ G·A / den) added by rows, the heads shared
// out among the threads. A backward that builds a graph (create_graph) goes through ATen's ops,
// as do other devices and dtypes.
#pragma once

#include <torch/torch.h>

namespace infini {

// matrix: [..., d_key, d_value], normalizer: [..., d_key], sigma_q: [..., rows, d_key], with the
// same leading dimensions → [..., rows, d_value].
torch::Tensor memory_read(const torch::Tensor& matrix, const torch::Tensor& normalizer, const torch::Tensor& sigma_q,
                          double eps);

}  // namespace infini
