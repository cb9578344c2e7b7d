// Checkpoint directories in Hugging Face's layout (SPEC section 2): config.json,
// model.safetensors (or shards with model.safetensors.index.json), tokenizer.model.
//
// Writes are atomic (core/staged_directory.h): a crash at any moment leaves the old or the new
// checkpoint whole.
#pragma once

#include <string>
#include <torch/torch.h>

#include "core/staged_directory.h"
#include "model/decoder.h"
#include "formats/safetensors.h"

namespace infini {

// Writes config.json, model.safetensors and (when given) tokenizer.model into `writer`.
void stage_model(StagedDirectory& writer, Decoder& decoder, const std::string& tokenizer_path);
// stage_model + commit: a complete model checkpoint at `dir`.
void save_model(const std::string& dir, Decoder& decoder, const std::string& tokenizer_path);

ModelConfig read_model_config(const std::string& dir);
// Builds the decoder that `dir` describes and loads its weights (F32 or BF16, single file or
// sharded). Every parameter must be present with its shape; an error names the file and tensor.
Decoder load_model(const std::string& dir, torch::Device device = torch::kCPU);
std::string tokenizer_path(const std::string& dir);

}  // namespace infini
