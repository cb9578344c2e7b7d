// `eval ppl` over several checkpoints: every checkpoint scored on the same documents, with its
// memory carried and, for the ablation, reset at every segment.
#pragma once

#include <string>
#include <vector>

#include "eval/perplexity.h"

namespace infini {

struct CheckpointPerplexityOptions {
  std::vector<std::string> checkpoints;
  std::string data;             // PATH as `--data` accepts it
  PerplexityOptions perplexity; // its `memory` is the setting of every first pass
  bool memory_ablation = false; // a second pass with memory reset, for checkpoints with memory
};

// The cheap checks come first: every checkpoint's config.json and tokenizer are read, and the
// documents are opened once per distinct tokenizer (each evaluation streams them again, so
// checkpoints that share a tokenizer see the same tokens). Then each checkpoint is loaded in
// turn, its peaks measured from its loading on. Results are in checkpoint order, each
// checkpoint's memory pass before its ablation.
std::vector<PerplexityResult> evaluate_checkpoints(const CheckpointPerplexityOptions& options);

}  // namespace infini
