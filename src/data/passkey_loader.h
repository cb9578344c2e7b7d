// Passkey fine-tuning batches (the paper fine-tunes on 5K-token passkey inputs for 400 steps):
// every row is one task sequence (data/passkey.h) of sequence_length + 1 tokens — the prompt
// and then the key's tokens — with a random key and a random depth. Sample n of the job is drawn
// from (seed, n) alone, so the position is just a count and resumes exactly.
#pragma once

#include <memory>

#include "data/batch_source.h"
#include "data/passkey.h"
#include "data/tokenizer.h"

namespace infini {

struct PasskeyLoaderOptions {
  int64_t batch_size = 1;
  int64_t sequence_length = 5120;
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  bool answer_only = false;  // the loss only on the key's tokens; false: on every token
  double min_depth = 0.0, max_depth = 1.0;
};

class PasskeyLoader : public BatchSource {
 public:
  PasskeyLoader(const std::string& tokenizer_path, PasskeyLoaderOptions options);

  LoaderBatch next() override;
  LoaderState state() const override { return state_; }
  void restore(const LoaderState& state) override { state_ = state; }
  // The job's n-th sample: tokens (sequence_length + 1) and the index of the first answer token.
  std::pair<std::vector<int64_t>, int64_t> sample(int64_t n) const;
  double bytes_per_token() const { return task_->filler_bytes_per_token(); }

 private:
  Tokenizer tokenizer_;
  std::unique_ptr<PasskeyTask> task_;  // refers to tokenizer_
  PasskeyLoaderOptions options_;
  LoaderState state_;
};

}  // namespace infini
