// Decoding with the memory carried: a prompt of any length streams through the model segment by
// segment (so its memory holds the whole prompt), then new tokens are produced one at a time,
// greedily or by temperature / nucleus (top-p) sampling.
//
// The model runs whole segments, so a token inside the current segment is predicted by running
// that segment's tokens so far from the memory at the segment's start; a full segment is then
// written into the memory. Every prediction is exactly the teacher-forced one on the same tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/decoder.h"

namespace infini {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  double temperature = 0.0;  // 0: greedy
  double top_p = 1.0;
  uint64_t seed = 0;
  int64_t stop_token = -1;   // stop after producing it (the eos id); -1: never
  bool carry_memory = true;  // false: every segment starts from an empty state (the ablation)
  std::function<void(int64_t)> prompt_read;  // hears the prompt tokens read after each whole segment
};

// A prompt being read or continued: the memory of its whole segments, the tokens of the segment in
// progress and the prediction after the last token. A copy is an independent continuation from
// the same point (the state is replaced, never changed in place), so a long prompt read once can
// be continued two ways.
class Decoding {
 public:
  Decoding(Decoder& decoder, bool carry_memory);
  // Reads tokens (the first call's should start with bos): whole segments several to a forward
  // call, the rest one at a time. `prompt_read` hears the tokens read after each whole segment.
  void read(const std::vector<int64_t>& tokens, const std::function<void(int64_t)>& prompt_read = {});
  void push(int64_t token);
  // The logits for the next token, on the CPU; undefined before anything was read.
  torch::Tensor next_logits() const;

 private:
  Decoder* decoder_;
  bool carry_memory_;
  int64_t segment_;
  int64_t read_ = 0;              // tokens read so far
  ModelState state_;              // the memory of every completed segment
  std::vector<int64_t> current_;  // tokens of the segment in progress
  torch::Tensor next_logits_;
};

// The new tokens after `prompt` (which should start with bos). `on_token` sees each as it comes.
std::vector<int64_t> generate(Decoder& decoder, const std::vector<int64_t>& prompt, const GenerateOptions& options,
                              const std::function<void(int64_t)>& on_token = {});

}  // namespace infini
