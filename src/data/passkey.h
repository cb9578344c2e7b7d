// The passkey retrieval task of the paper's Appendix B, as token sequences of an exact length:
//
//   [bos] intro · filler filler ... [key line] ... filler · question  → answer (the key's tokens)
//
// The filler repeats "The grass is green. ..." and is cut to the token count that makes the
// prompt exactly the requested length; the key line sits after round(depth · filler tokens)
// filler tokens (depth 0: right after the intro, 1: right before the question). Each piece is
// encoded on its own and the ids concatenated, so lengths and positions are exact; evaluation
// (eval/passkey_eval.h) and fine-tuning (data/passkey_loader.h) build the same sequences.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace infini {

struct PasskeyPrompt {
  std::vector<int64_t> tokens;  // exactly the requested length, starting with bos
  std::vector<int64_t> answer;  // the key's tokens, the expected continuation
  int64_t key_position = 0;     // index in `tokens` of the key line's first token
  int64_t key_tokens = 0;       // the key line's length in tokens
};

class PasskeyTask {
 public:
  static constexpr const char* kIntro =
      "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
      "I will quiz you about the important information there.";
  static constexpr const char* kFiller =
      "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
  static constexpr const char* kQuestion = "What is the pass key? The pass key is";
  static constexpr int64_t kMinKey = 10000, kMaxKey = 99999;  // five digits

  explicit PasskeyTask(const Tokenizer& tokenizer);

  // "The pass key is NNNNN. Remember it. NNNNN is the pass key."
  static std::string key_line(int64_t key);
  // A prompt of exactly `length` tokens with the key line at `depth` in [0, 1]; InputError when
  // `length` cannot hold the fixed text (see shortest_prompt).
  PasskeyPrompt prompt(int64_t length, double depth, int64_t key) const;
  // The fewest tokens a prompt with this key can have (no filler at all).
  int64_t shortest_prompt(int64_t key) const;
  // UTF-8 bytes per token of the filler, for bits per byte.
  double filler_bytes_per_token() const;
  int64_t bos() const { return bos_; }

 private:
  const Tokenizer& tokenizer_;
  int64_t bos_;
  std::vector<int64_t> intro_, filler_, question_;
};

// "start" 0, "middle" 0.5, "end" 1, or a number in [0, 1]; InputError otherwise.
double parse_depth(const std::string& text);

}  // namespace infini
