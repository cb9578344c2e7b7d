// Moving weights between architectures: the continual pre-training path of the paper, which takes
// an existing model, replaces its attention with Infini-attention and keeps training. The memory
// reuses the layer's Q/K/V projections, so a conversion copies every tensor the two models share
// and initialises only what is new (the gates β, from the target config's gate_init).
#pragma once

#include <string>

#include "model/decoder.h"

namespace infini {

// A decoder of `target` holding `source`'s weights. Every tensor of the target other than the
// gates must exist in the source with the same shape (kinds, segment length, memory rule and
// RoPE base may differ; sizes may not): otherwise an InputError names the tensor. Untying
// embeddings copies them into lm_head; tying untied ones is refused.
Decoder convert_weights(Decoder& source, const ModelConfig& target);

// A plain Hugging Face Llama directory (config.json without infini_attention, model.safetensors,
// tokenizer.model) from a model whose every layer is `full`; others are refused.
void save_hf_model(const std::string& dir, Decoder& decoder, const std::string& tokenizer);

}  // namespace infini
