// Gradient checkpointing per segment, for backpropagation through the memory across segments.
//
// LibTorch's C++ API has no checkpoint helper, so this is a custom autograd function: a segment's
// forward runs its layers without keeping activations, saving only its inputs (tokens, targets,
// the incoming memory state) and the loss's gradient at the layers' output; backward recomputes
// the layers with gradients on and backpropagates through them. Activation memory then stays
// about one segment deep however many segments are unrolled (plus one hidden vector per token).
#pragma once

#include <torch/torch.h>

#include "model/decoder.h"

namespace infini {

struct SegmentResult {
  torch::Tensor loss_sum;  // summed cross-entropy (nats) over targets other than kIgnoreTarget (the loader's padding)
  ModelState state;        // the state to carry into the next segment
};

// One segment: logits for `tokens` [batch, length] given `state`, loss against `targets`; or
// `segments` consecutive segments of one length in one call (Decoder::forward).
SegmentResult run_segment(Decoder& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                          const ModelState& state, int64_t segments = 1);

struct HeadGradients;

// Segments run with the same values and gradients as run_segment, their layers' activations
// recomputed in backward instead of kept. Parameter gradients are accumulated into .grad during
// the outer backward() (as PyTorch's reentrant checkpoint does): use backward(), not
// autograd::grad, on losses built from it.
//
// The output head (final norm, output projection, loss) is not recomputed: each segment's forward
// backpropagates its loss through the head at once, keeps the gradient at the layers' output
// (one hidden vector per token) for its backward, and adds the head's parameter gradients to a sum
// shared by the segments of this object. The first segment backward that runs adds that sum,
// times its loss's gradient, to .grad. So the segments' losses must enter the final loss with one
// common factor (a sum of them, scaled); a segment whose factor differs is refused in backward.
class CheckpointedSegments {
 public:
  explicit CheckpointedSegments(Decoder model);
  ~CheckpointedSegments();
  CheckpointedSegments(const CheckpointedSegments&) = delete;
  CheckpointedSegments& operator=(const CheckpointedSegments&) = delete;
  SegmentResult run(const torch::Tensor& tokens, const torch::Tensor& targets, const ModelState& state);

 private:
  Decoder model_;
  c10::intrusive_ptr<HeadGradients> head_;
};

}  // namespace infini
