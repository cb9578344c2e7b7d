// Matrix products of stacks of matrices, one matrix per thread.
//
// ATen 1.13 multiplies a float stack on the CPU one matrix after another, each product split
// across the threads; for attention's small products (256 × 64 by 64 × 256) that runs at a third
// to a half of the machine's matmul rate, and below a third where a transposed operand is
// copied first. Handing whole matrices to the threads instead (OpenBLAS then runs each one on
// its own thread) runs at the rate of one large product (bench_attention, README). Autograd
// sees one operation whose backward is two such products.
#pragma once

#include <torch/torch.h>

namespace infini {

// a: [..., n, k], b: [..., k, m] → [..., n, m], as torch::matmul. Float32 and float64 CPU
// operands with the same leading dimensions go one matrix per thread; anything else (other
// dtypes, which oneDNN already batches well, autocast, broadcasting, CUDA) is torch::matmul.
torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace infini
