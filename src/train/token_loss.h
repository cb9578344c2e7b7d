// The training loss: summed cross-entropy of next-token logits, fused for the CPU.
#pragma once

#include <torch/torch.h>

namespace infini {

// Σ −log softmax(logits)[target] over the rows whose target is not `ignore_index`, in float32
// (float64 for float64 logits). `logits` [N, V], `targets` [N].
//
// The same value and gradient as cross_entropy(reduction = sum), by a shorter road. On the CPU
// one pass per row forward (the largest logit, then Σ exp, in cache) keeps only log Σ exp per
// row, and one pass backward writes g·(softmax − one-hot) straight in the logits' dtype
// (bfloat16 under autocast: rounded once, as the cast back would). LibTorch's own path casts the
// logits to float32, writes the log-probabilities, then a zero N×V gradient for the gather,
// scatters into it, runs log-softmax's backward and casts back: about eight passes over the
// logits where this takes three reads and one write (logits of 1,024 × 8,000 are 32 MiB in
// float32). Elsewhere, and for a backward that builds a graph, ATen's ops.
torch::Tensor summed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets, int64_t ignore_index);

}  // namespace infini
