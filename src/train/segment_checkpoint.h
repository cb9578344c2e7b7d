// Gradient checkpointing per segment, for backpropagation through the memory across segments.
//
// LibTorch's C++ API has no checkpoint helper, so this is a custom autograd function: a segment's
// forward runs without keeping activations, saving only its inputs (tokens, targets, the incoming
// memory state); backward recomputes the segment with gradients on and backpropagates through it.
// Activation memory then stays about one segment deep however many segments are unrolled.
#pragma once

#include <torch/torch.h>

#include "model/decoder.h"

namespace infini {

struct SegmentResult {
  torch::Tensor loss_sum;  // summed cross-entropy (nats) over targets other than kIgnoreTarget (the loader's padding)
  ModelState state;        // the state to carry into the next segment
};

// One segment: logits for `tokens` [batch, length] given `state`, loss against `targets`.
SegmentResult run_segment(Decoder& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                          const ModelState& state);

// The same values and gradients as run_segment, with the segment's activations recomputed in
// backward instead of kept. Parameter gradients are accumulated into .grad during the outer
// backward() (as PyTorch's reentrant checkpoint does): use backward(), not autograd::grad, on
// losses built from it.
SegmentResult run_segment_checkpointed(Decoder& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                                       const ModelState& state);

}  // namespace infini
