// `infini eval passkey`: the paper's passkey retrieval (Appendix B, Table 3). For every length,
// depth and key, the prompt (data/passkey.h) streams through the model with its memory carried
// (or reset at every segment: the ablation), the answer is decoded greedily, and each answer
// token is checked against the key's: token-level accuracy and exact match per length and depth.
// Each trial also records the answer's loss under teacher forcing, token by token (the prompt is
// read once and continued both ways).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/schema.h"
#include "data/passkey.h"
#include "eval/provenance.h"
#include "model/decoder.h"

namespace infini {

struct PasskeyOptions {
  std::vector<int64_t> lengths;                 // prompt tokens
  std::vector<double> depths = {0.0, 0.5, 1.0}; // start, middle, end
  int64_t keys = 5;                             // random keys per length and depth
  int64_t key_digits = PasskeyTask::kDefaultKeyDigits;
  uint64_t seed = 0;
  // The layout (data/passkey.h): the model's segment length for memory-only prompts (a whole
  // segment between key and question), 0 for the paper's Table 3 layout.
  int64_t segment_length = 0;
  bool memory = true;  // false: every segment starts with empty memory
  bool progress_bar = false;
};

// How much of one infini layer's attention output came from memory where an answer token was
// predicted (teacher-forced), per query head: |g·A_mem| / (|g·A_mem| + |(1 − g)·A_dot|), norms
// over the head's d values (Eq. 10's two terms).
struct MemoryShare {
  int64_t answer_token = 0;
  int64_t layer = 0;
  std::vector<double> heads;
};

template <class F>
void fields(F& f, MemoryShare& m) {
  f("answer_token", m.answer_token, required_at_least(0));
  f("layer", m.layer, required_at_least(0));
  f("heads", m.heads, required_key());
}

struct PasskeyTrial {
  int64_t length = 0;
  double depth = 0.0;
  int64_t key = 0;
  int64_t prompt_tokens = 0;      // the prompt's actual length
  int64_t key_position = 0;
  int64_t question_position = 0;
  int64_t segments_between = 0;   // whole segments between the key line's and the question's
  int64_t answer_tokens = 0;
  int64_t correct_tokens = 0;     // answer tokens decoded right, position by position
  std::vector<bool> correct;      // per answer token
  std::vector<double> answer_nll; // per answer token: −log p(key token | prompt, the key's earlier tokens)
  std::string decoded;         // what the model answered
  std::vector<MemoryShare> memory_share;  // per answer token and infini layer
  double seconds = 0.0;
};

template <class F>
void fields(F& f, PasskeyTrial& t) {
  f("length", t.length, required_at_least(1));
  f("depth", t.depth, required_key());
  f("key", t.key, at_least(0));
  f("prompt_tokens", t.prompt_tokens, at_least(0));
  f("key_position", t.key_position, at_least(0));
  f("question_position", t.question_position, at_least(0));
  f("segments_between", t.segments_between, at_least(0));
  f("answer_tokens", t.answer_tokens, required_at_least(0));
  f("correct_tokens", t.correct_tokens, required_at_least(0));
  f("correct", t.correct);
  f("answer_nll", t.answer_nll);
  f("decoded", t.decoded);
  f.list("memory_share", t.memory_share);
  f("seconds", t.seconds);
}

// One length and depth: its trials pooled.
struct PasskeyCell {
  int64_t length = 0;
  double depth = 0.0;
  int64_t trials = 0;
  double accuracy = 0.0;  // answer tokens decoded right, over all of the cell's answer tokens
  double exact = 0.0;     // share of trials whose every answer token is right
};

struct PasskeyResult {
  std::string checkpoint;
  nlohmann::json model;  // the checkpoint's config.json
  PasskeyOptions options;
  std::vector<PasskeyTrial> trials;
  Provenance provenance;

  // By length, then depth.
  std::vector<PasskeyCell> cells() const;
  // result_header("passkey"), the schema below, "layout", and "accuracy": the cells.
  nlohmann::json to_json() const;
  static PasskeyResult from_json(const nlohmann::json& json, const std::string& where);
};

template <class F>
void fields(F& f, PasskeyResult& r) {
  f("checkpoint", r.checkpoint, required_key());
  f("model", r.model, required_key());
  f("keys", r.options.keys, at_least(1));
  f("key_digits", r.options.key_digits, at_least(1));
  f("seed", r.options.seed);
  f("segment_length", r.options.segment_length, at_least(0));
  f("memory", r.options.memory);
  f("lengths", r.options.lengths);
  f("depths", r.options.depths);
  f.list("trials", r.trials, required_key());
  f.section("provenance", r.provenance);
}

// The keys drawn for a seed: the same for every length and depth, so cells compare.
std::vector<int64_t> passkey_keys(int64_t count, uint64_t seed, int64_t digits = PasskeyTask::kDefaultKeyDigits);

// InputError naming the first length too short for the task's fixed text with one of the keys.
void check_passkey_lengths(const PasskeyTask& task, const PasskeyOptions& options);

PasskeyResult evaluate_passkey(Decoder& decoder, const Tokenizer& tokenizer, const PasskeyOptions& options);

// A checkpoint's passkey evaluation as `eval passkey` runs it: its tokenizer checked against its
// model and the lengths against the task before the model loads; `memory_layout` takes the
// segment length from the model (options.segment_length is ignored), else the Table 3 layout.
PasskeyResult evaluate_passkey_checkpoint(const std::string& checkpoint, PasskeyOptions options, bool memory_layout,
                                          torch::Device device, torch::ScalarType dtype);

}  // namespace infini
