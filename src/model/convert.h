// Moving weights between architectures: the continual pre-training path of the paper, which takes
// an existing model, replaces its attention with Infini-attention and keeps training. The memory
// reuses the layer's Q/K/V projections, so a conversion copies every tensor the two models share
// and initialises only what is new: the gates β.
#pragma once

#include <string>

#include "model/decoder.h"

namespace infini {

// β of a gate that conversion creates: sigmoid(−4) = 0.018, so a converted layer starts within 2%
// of its source (on the first segment, whose memory is empty, the output is (1 − sigmoid(β))
// times the local attention's; β = 0 would halve it), while sigmoid′(−4) = 0.0177 still lets the
// gate learn (at β = −10 it is 4.5e-5). convert_test states both numbers.
constexpr double kConvertedGateInit = -4.0;

// A decoder of `target` holding `source`'s weights. Every tensor of the target other than the
// gates must exist in the source with the same shape (kinds, segment length, memory rule and
// RoPE base may differ; sizes may not): otherwise an InputError names the tensor. Gates the
// source lacks are set to `new_gate`. Untying embeddings copies them into lm_head; tying untied
// ones is refused.
Decoder convert_weights(Decoder& source, const ModelConfig& target, double new_gate = kConvertedGateInit);

// A plain Hugging Face Llama directory (config.json without infini_attention, model.safetensors,
// tokenizer.model) from a model whose every layer is `full`; others are refused.
void save_hf_model(const std::string& dir, Decoder& decoder, const std::string& tokenizer);

}  // namespace infini
