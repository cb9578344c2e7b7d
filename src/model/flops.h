// Model FLOPs, the numerator of MFU: multiply-adds of the weights, the causal attention pairs
// and the memory's read and update, counted as 2 FLOPs each. Work that checkpointing repeats in
// backward is not counted (MFU measures the model, not the recomputation).
#pragma once

#include "attention/attention.h"
#include "model/model_config.h"

namespace infini {

// Forward FLOPs of one attention layer on one segment of `n` tokens after `past` cached ones,
// counting only the query/key pairs causal attention computes.
double attention_flops(const AttentionOptions& options, int64_t n, int64_t past);

// Forward FLOPs per token of the whole model over segments of the configured length (for xl
// the cache of one segment, for full a document of `context` tokens).
double forward_flops_per_token(const ModelConfig& config, int64_t context);

}  // namespace infini
