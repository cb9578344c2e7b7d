// The passkey retrieval task of the paper's Appendix B, as token sequences of an exact length:
//
//   [bos] intro sentence sentence ... [key line] sentence ... [pad...] question  → answer (the key)
//
// The filler repeats the sentences of "The grass is green. The sky is blue. ..." whole, in
// order, and the key line goes between two of them. Whole sentences rarely add up to the
// requested length, so the few tokens left over (fewer than one sentence) are pad tokens right
// before the question: the prompt is then exactly the requested length, so where the question
// falls in its segment depends on the length alone (training, data/passkey_loader.h, draws it).
// Each piece is encoded on its own and the ids concatenated, so lengths and positions are exact;
// evaluation (eval/passkey_eval.h) and training (data/passkey_loader.h) build the same sequences.
//
// Two layouts:
// - memory-only (`segment_length` > 0): a whole segment lies between the key line's segment and
//   the question's, so local attention (and a Transformer-XL's one cached segment) cannot see
//   the key from the question or the answer; only the compressive memory can carry it. Depth 0
//   puts the key right after the intro, depth 1 at the last sentence boundary that still leaves
//   that whole segment.
// - Table 3 (`segment_length` 0): depth 1 puts the key right before the question, as the paper.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace infini {

struct PasskeyPrompt {
  std::vector<int64_t> tokens;     // exactly the requested length, starting with bos
  std::vector<int64_t> answer;     // the key's tokens, the expected continuation
  int64_t key_position = 0;        // index in `tokens` of the key line's first token; -1: none
  int64_t key_tokens = 0;          // the key line's length in tokens
  int64_t question_position = 0;   // index of the question's first token
  int64_t pad_tokens = 0;          // pad tokens right before the question
};

// The keys of `digits` digits with no leading zero: 10^(digits-1) to 10^digits - 1 (one digit:
// 0 to 9). Five digits are the paper's; fewer make the task easier (a curriculum step).
struct PasskeyKeyRange {
  int64_t low = 0, high = 0;
};
// InputError naming `what` unless 1 <= digits <= kMaxKeyDigits.
PasskeyKeyRange passkey_key_range(int64_t digits, const std::string& what = "key digits");

class PasskeyTask {
 public:
  static constexpr const char* kIntro =
      "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
      "I will quiz you about the important information there.";
  static constexpr const char* kFiller =
      "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
  static constexpr const char* kQuestion = "What is the pass key? The pass key is";
  static constexpr int64_t kDefaultKeyDigits = 5, kMaxKeyDigits = 9;

  explicit PasskeyTask(const Tokenizer& tokenizer);

  // "The pass key is NNNNN. Remember it. NNNNN is the pass key."
  static std::string key_line(int64_t key);
  // A prompt of exactly `length` tokens with the key line at `depth` in [0, 1], in the
  // memory-only layout for `segment_length` > 0, else the paper's. InputError when `length`
  // cannot hold the layout (see shortest_prompt). Without `with_line` the prompt holds filler
  // where the line would go and nothing names the key (training's keyless samples).
  PasskeyPrompt prompt(int64_t length, double depth, int64_t key, int64_t segment_length = 0,
                       bool with_line = true) const;
  // The fewest tokens a prompt with this key can have in the layout.
  int64_t shortest_prompt(int64_t key, int64_t segment_length = 0) const;
  // InputError naming the shortest length when `length` cannot hold the layout with this key.
  void require_length(int64_t length, int64_t key, int64_t segment_length = 0) const;
  // UTF-8 bytes per token of the filler, for bits per byte.
  double filler_bytes_per_token() const;
  int64_t bos() const { return bos_; }
  int64_t pad() const { return pad_; }

 private:
  const Tokenizer& tokenizer_;
  int64_t bos_, pad_;
  std::vector<int64_t> intro_, question_;
  std::vector<std::vector<int64_t>> sentences_;  // the filler's sentences, each encoded whole

  int64_t shortest_with_line(int64_t line_tokens, int64_t segment_length) const;
};

// "start" 0, "middle" 0.5, "end" 1, or a number in [0, 1]; InputError otherwise.
double parse_depth(const std::string& text);

}  // namespace infini
