// Passkey training batches (data.task: passkey): generated retrieval sequences in the
// memory-only layout of data/passkey.h, so that every answer has to come through the memory.
//
// A sample is `k` segments: a prompt (a random key of `key_digits` digits at a random depth, a whole segment
// between key line and question) that ends `r` tokens into its last segment, then the key's
// tokens, then pad tokens that are never targets. `r` is drawn from [question tokens, segment -
// answer tokens], so the question and its answer share the last segment (the key never does).
// With `pack` (models whose memory resets per row at segment boundaries) a row holds as many
// samples as fit, each starting on a segment boundary (`starts`), with `k` drawn log-uniformly
// from [min_segments, max_segments] (max_segments growing over a curriculum) so that short and
// long distances both occur; without it (xl/full caches reset only for the whole batch) each row
// is one sample filling the row. Sample n of the job is drawn from (seed, n) alone, and the
// position is a count of samples, so resume is exact and ranks split samples.
#pragma once

#include <memory>

#include "data/batch_source.h"
#include "data/passkey.h"
#include "data/tokenizer.h"

namespace infini {

// Which tokens of a sample carry the loss.
enum class PasskeyTargets {
  All,        // every token of the prompt and the answer
  KeyLine,    // the key line (where the prompt repeats the key: a copy local attention can learn)
              // and the answer, which only the memory can give
  Answer,     // the answer alone
};

struct PasskeyLoaderOptions {
  int64_t batch_size = 1;
  int64_t sequence_length = 5120;
  int64_t segment_length = 256;  // the model's
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  PasskeyTargets targets = PasskeyTargets::All;
  bool pack = true;           // several samples per row (see above)
  int64_t min_segments = 0;   // segments per sample; 0: the fewest the layout allows
  int64_t max_segments = 0;   // 0: a whole row
  // Curriculum over distance: the longest sample grows linearly from min_segments at the job's
  // first sample to max_segments at this one (0: no curriculum).
  int64_t curriculum_samples = 0;
  double min_depth = 0.0, max_depth = 1.0;
  int64_t key_digits = PasskeyTask::kDefaultKeyDigits;
  // Share of samples with no key line: the answer is still a random key, which nothing in the
  // prompt names, so the model learns to spread its answer evenly over the keys when the
  // memory carries none (rather than whatever a read of filler alone happens to say).
  double keyless_share = 0.0;
  // Dilution: each sample's filler segments (all but those holding a key-line token and the
  // last, which holds the question) write to the memory as `w` segments would, `w` drawn per
  // sample log-uniformly from [1, dilution] (batch.write_weights). The filler repeats, so with the
  // linear rule w writes of a filler segment are about w times its write: a sample of k segments
  // then weighs on the key's share of the memory as a prompt of up to k · dilution segments.
  double dilution = 1.0;
};

struct PasskeySample {
  std::vector<int64_t> inputs;   // segments · segment_length tokens: prompt, answer, pads
  std::vector<int64_t> targets;  // inputs shifted by one; kIgnoreTarget past the answer
  int64_t answer_start = 0;      // index in `inputs` of the answer's first token
  int64_t key = 0;
  bool keyless = false;          // no key line (see keyless_share)
  double filler_weight = 1.0;    // the filler segments' write weight (see dilution)
  std::vector<float> write_weights;  // per segment: filler_weight, or 1 for the key line's and the last
  PasskeyPrompt prompt;
};

class PasskeyLoader : public BatchSource {
 public:
  PasskeyLoader(const std::string& tokenizer_path, PasskeyLoaderOptions options);

  LoaderBatch next() override;
  LoaderState state() const override { return state_; }
  void restore(const LoaderState& state) override { state_ = state; }
  // The segments the job's n-th sample asks for (before a row's room clips it).
  int64_t drawn_segments(int64_t n) const;
  // The job's n-th sample in `segments` segments.
  PasskeySample sample(int64_t n, int64_t segments) const;
  int64_t min_segments() const { return min_segments_; }
  double bytes_per_token() const { return task_->filler_bytes_per_token(); }

 private:
  Tokenizer tokenizer_;
  std::unique_ptr<PasskeyTask> task_;  // refers to tokenizer_
  PasskeyLoaderOptions options_;
  int64_t min_segments_ = 0, max_segments_ = 0;
  PasskeyKeyRange keys_;
  int64_t answer_tokens_ = 0, question_tokens_ = 0;
  LoaderState state_;
};

}  // namespace infini
