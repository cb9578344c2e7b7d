// Backpropagation through time over the memory: a sequence of k segments runs in order with the
// memory carried from each segment to the next, so the summed loss reaches back through every
// memory update. The gradient path can be cut every t segments (truncated BPTT) and each
// segment's activations recomputed in backward (segment_checkpoint.h).
#pragma once

#include <torch/torch.h>

#include "model/decoder.h"

namespace infini {

struct BpttOptions {
  int64_t segment_length = 0;
  int64_t bptt_segments = 0;  // detach the carried state before every segment s with s % t == 0; 0: never
  bool checkpoint = true;     // recompute segment activations in backward (all but the last segment's)
};

struct SequenceLoss {
  torch::Tensor loss_sum;  // summed cross-entropy (nats) over every non-padding target
  ModelState state;        // after the last segment, still attached to the graph
};

// inputs, targets, starts: [batch, k · segment_length] as the loader gives them, with document
// starts only at segment boundaries. Rows whose document starts at a segment begin it with an
// empty memory. `state` is the memory entering the first segment (ModelState{}: empty).
// write_weights ([batch, k] float, optional; LoaderBatch::write_weights): segment s of a row adds
// w times its memory write (M and z alike), M ← M + w·ΔM, as w repeats of a linear-rule write.
// Without checkpointing, segments with no cut, document start or weighted write between them
// run in one model call (Decoder::segments_per_call): the same numbers, larger matrix products.
SequenceLoss sequence_loss(Decoder& model, const torch::Tensor& inputs, const torch::Tensor& targets,
                           const torch::Tensor& starts, ModelState state, const BpttOptions& options,
                           const torch::Tensor& write_weights = {});

}  // namespace infini
