// A synthetic recall task that isolates the compressive memory: a key of `key_tokens` random
// digits lies in the first segment of a sample, the question ends the last one, and everything
// else is random filler, so only the memory can carry the key to the question:
//
//   segment 0:        filler ... marker d1 .. dk filler ...      (marker at a random place)
//   segments 1..n-2:  filler
//   segment n-1:      filler ... question d1 .. dk               (the answer, teacher-forced)
//
// The targets are the key's digits at the question and at the answer's tokens (each predicts the
// next digit), kIgnoreTarget elsewhere. Chance is log(10) nats per digit. It needs no tokenizer:
// ids 0-19 are reserved (marker 1, question 2, digits 10-19) and filler is drawn from 20 up.
// tests/retrieval_learning_test.cpp and experiments/recall_study.cpp train on it.
#pragma once

#include <torch/torch.h>

namespace infini {

struct RecallBatch {
  torch::Tensor inputs;   // [rows, segments · segment_length] int64
  torch::Tensor targets;  // same shape; kIgnoreTarget except where a digit is to be predicted
};

class RecallTask {
 public:
  static constexpr int64_t kMarker = 1, kQuestion = 2, kFirstDigit = 10, kDigits = 10, kFirstFiller = 20;

  // InputError when the vocabulary has no room for filler or a segment cannot hold the key line.
  RecallTask(int64_t vocab_size, int64_t segment_length, int64_t key_tokens);

  // `rows` samples of `segments` (≥ 2) segments each, drawn from `generator`.
  RecallBatch batch(int64_t rows, int64_t segments, torch::Generator& generator) const;

 private:
  int64_t vocab_size_, segment_length_, key_tokens_;
};

}  // namespace infini
