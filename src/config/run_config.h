// The YAML run config: one typed struct per section, validated once at load.
//
//   model: the decoder (HF LlamaConfig keys + infini_attention), see model/model_config.h
//   data:  where documents and the tokenizer are
//   eval:  how perplexity is measured
//   run:   seed, device, threads, dtype, output directory
//
// Code below this layer takes these structs, never YAML.
#pragma once

#include <string>
#include <torch/torch.h>
#include <vector>

#include "model/model_config.h"

namespace infini {

struct DataSection {
  std::string tokenizer;   // SentencePiece model; empty until a tokenizer exists
  std::string train;       // PATH as `--data` accepts it
  std::string validation;  // PATH as `--data` accepts it
};

struct EvalSection {
  int64_t segment_length = 0;  // 0: the model's own
  bool memory = true;          // false: reset memory at every segment (the ablation)
  int64_t bucket_width = 2048; // tokens per by_position bucket
};

struct RunSection {
  std::string dir = "runs/default";
  int64_t seed = 0;
  std::string device = "cpu";
  int64_t threads = 0;  // 0: one per core
  torch::ScalarType dtype = torch::kFloat32;
};

struct RunConfig {
  ModelConfig model;
  DataSection data;
  EvalSection eval;
  RunSection run;
};

// Reads `path`, applies each "key.path=value" override, validates everything.
// Throws InputError naming the file, the key path and what was expected.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
std::string resolved_yaml(const RunConfig& config);

}  // namespace infini
