// Perplexity over whole documents (SPEC section 5): each document streams through the model
// segment by segment with its memory carried (or reset per segment, the --no-memory ablation).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "core/schema.h"
#include "data/corpus.h"
#include "eval/footprint.h"
#include "eval/gates.h"
#include "eval/provenance.h"
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
  double ppl() const;  // 0 for an empty bucket
};

template <class F>
void fields(F& f, DocumentScore& d) {
  f("name", d.name, required_key());
  f("tokens", d.tokens, required_at_least(0));
  f("bytes", d.bytes, at_least(0));
  f("nll", d.nll, required_key());
}

template <class F>
void fields(F& f, PositionBucket& b) {
  f("start", b.start, required_at_least(0));
  f("end", b.end, required_at_least(0));
  f("tokens", b.tokens, required_at_least(0));
  f("nll", b.nll, required_key());
}

struct PerplexityTotal {
  int64_t tokens = 0, bytes = 0, documents = 0;
  double nll = 0.0;
  double ppl() const;
  double bits_per_byte() const;
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
  Provenance provenance;

  PerplexityTotal total() const;
  // SPEC section 5's object: result_header("ppl"), the schema below, and what follows from it
  // ("total", "timing", each bucket's "ppl", the footprint's compression ratio).
  nlohmann::json to_json() const;
  static PerplexityResult from_json(const nlohmann::json& json, const std::string& where);
};

template <class F>
void fields(F& f, PerplexityResult& r) {
  f("checkpoint", r.checkpoint, required_key());
  f("data", r.data);
  f("model", r.model, required_key());
  f("segment_length", r.options.segment_length, required_at_least(1));
  f("memory", r.options.memory);
  f.choice("dtype", r.options.dtype, kComputeDtypeNames);
  f("bucket_width", r.options.bucket_width, at_least(1));
  f("max_documents", r.options.max_documents, at_least(0));
  f("max_tokens_per_document", r.options.max_tokens_per_document, at_least(0));
  f.list("documents", r.documents, required_key());
  f.list("by_position", r.by_position, required_key());
  f.section("footprint", r.footprint, required_key());
  f.list("gates", r.gates);
  f.section("provenance", r.provenance);
}

struct DocumentNll {
  double nll = 0.0;    // nats, summed
  int64_t tokens = 0;  // predicted
};

// Summed negative log-likelihood (nats) of tokens[1:] given tokens[:-1], one document read from
// `tokens` as it is scored (memory does not grow with its length); adds each prediction's loss
// to `buckets` by its position (the index of the predicted token minus one). `scored`, when
// given, hears the tokens predicted so far after every forward call.
DocumentNll document_nll(Decoder& decoder, TokenStream& tokens, const PerplexityOptions& options,
                         std::vector<PositionBucket>& buckets, const std::function<void(int64_t)>& scored = {});
// The same over tokens in memory; returns the summed NLL.
double document_nll(Decoder& decoder, const std::vector<int64_t>& tokens, const PerplexityOptions& options,
                    std::vector<PositionBucket>& buckets, const std::function<void(int64_t)>& scored = {});

// Scores every document (within the options' limits). The footprint's peaks are the process's
// since the last reset_peak_memory() (core/system.h); the provenance holds the data's fingerprint
// (the caller knows the checkpoint).
PerplexityResult evaluate_perplexity(Decoder& decoder, const Corpus& corpus, const PerplexityOptions& options);

}  // namespace infini
