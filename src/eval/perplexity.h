// Perplexity over whole documents (SPEC section 5): each document streams through the model
// segment by segment with its memory carried (or reset per segment, the --no-memory ablation).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "eval/footprint.h"
#include "eval/gates.h"
#include "model/decoder.h"

namespace infini {

struct PerplexityOptions {
  int64_t segment_length = 0;  // 0: the model's own
  bool memory = true;
  int64_t bucket_width = 2048;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  int64_t max_documents = 0;            // 0: all
  int64_t max_tokens_per_document = 0;  // predicted tokens per document; 0: the whole document
  bool log_documents = true;            // one log line per document
  bool progress_bar = false;            // a live line over documents with tokens/s (a terminal)
};

struct DocumentScore {
  std::string name;
  int64_t tokens = 0;  // predicted tokens
  int64_t bytes = 0;
  double nll = 0.0;    // nats
};

struct PositionBucket {
  int64_t start = 0, end = 0;
  int64_t tokens = 0;
  double nll = 0.0;
};

struct PerplexityResult {
  std::string checkpoint;
  std::string data;  // the --data path
  PerplexityOptions options;
  nlohmann::json model;  // the checkpoint's config.json
  std::vector<LayerGates> gates;
  double seconds = 0.0;  // scoring time; reading and tokenising the documents excluded
  std::vector<DocumentScore> documents;
  std::vector<PositionBucket> by_position;
  Footprint footprint;

  nlohmann::json to_json() const;
};

// Summed negative log-likelihood (nats) of tokens[1:] given tokens[:-1], one document; adds each
// prediction's loss to `buckets` by its position (the index of the predicted token minus one).
double document_nll(Decoder& decoder, const std::vector<int64_t>& tokens, const PerplexityOptions& options,
                    std::vector<PositionBucket>& buckets);

// Scores every document (within the options' limits). The footprint's peaks are the process's
// since the last reset_peak_memory() (core/system.h).
PerplexityResult evaluate_perplexity(Decoder& decoder, const Corpus& corpus, const PerplexityOptions& options);

}  // namespace infini
