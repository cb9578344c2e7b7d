// What a model will need in memory, estimated from its config before anything is allocated, so
// that sizes no machine can hold end in one line (exit 2) instead of an allocator's stack trace.
//
// The estimates are lower bounds: the float32 weights, and of a segment's activations only the
// attention scores of its widest layer and its logits. A refusal therefore always means the
// work cannot fit; passing the check does not promise that it will.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "model/model_config.h"

namespace infini {

// Parameters of the decoder `config` describes (DecoderImpl::parameter_count of the built model).
double parameter_count(const ModelConfig& config);

// Bytes of the float32 weights.
double weight_bytes(const ModelConfig& config);

// Bytes one forward segment of `batch` rows of `segment` tokens needs at least: the attention
// scores of one layer (the whole segment for local/infini/full, two segments for xl) and the logits.
double segment_bytes(const ModelConfig& config, int64_t batch, int64_t segment);

// Bytes training needs at least: weights, gradients and AdamW's two moments, and the segment
// activations above for every segment BPTT keeps (one when `checkpoint_segments`).
double training_bytes(const ModelConfig& config, int64_t batch, int64_t sequence, bool checkpoint_segments);

// Throws InputError ("<what> needs at least X GiB; Y GiB is available on <device>") when `bytes`
// exceeds what `device` has available; does nothing when that cannot be told.
void require_memory(double bytes, const c10::Device& device, const std::string& what);

}  // namespace infini
