#include "data/recall_task.h"

#include <string>

#include "core/errors.h"
#include "data/loader_batch.h"

namespace infini {

RecallTask::RecallTask(int64_t vocab_size, int64_t segment_length, int64_t key_tokens)
    : vocab_size_(vocab_size), segment_length_(segment_length), key_tokens_(key_tokens) {
  if (vocab_size <= kFirstFiller)
    throw InputError("recall task: the vocabulary needs more than " + std::to_string(kFirstFiller) + " ids, got " +
                     std::to_string(vocab_size));
  if (key_tokens < 1 || key_tokens + 1 > segment_length)
    throw InputError("recall task: a key of " + std::to_string(key_tokens) + " tokens and its marker do not fit a " +
                     std::to_string(segment_length) + "-token segment");
}

RecallBatch RecallTask::batch(int64_t rows, int64_t segments, torch::Generator& generator) const {
  if (segments < 2) throw InputError("recall task: a sample needs at least 2 segments, got " + std::to_string(segments));
  const int64_t length = segments * segment_length_, k = key_tokens_;
  auto inputs = torch::randint(kFirstFiller, vocab_size_, {rows, length}, generator, torch::kLong);
  auto targets = torch::full({rows, length}, kIgnoreTarget, torch::kLong);
  auto digits = torch::randint(kFirstDigit, kFirstDigit + kDigits, {rows, k}, generator, torch::kLong);
  auto places = torch::randint(0, segment_length_ - k, {rows}, generator, torch::kLong);
  auto in = inputs.accessor<int64_t, 2>();
  auto out = targets.accessor<int64_t, 2>();
  auto key = digits.accessor<int64_t, 2>();
  auto place = places.accessor<int64_t, 1>();
  const int64_t question = length - 1 - k;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t marker = place[r];
    in[r][marker] = kMarker;
    in[r][question] = kQuestion;
    for (int64_t j = 0; j < k; ++j) {
      in[r][marker + 1 + j] = key[r][j];
      in[r][question + 1 + j] = key[r][j];
      out[r][question + j] = key[r][j];
    }
  }
  return {inputs, targets};
}

}  // namespace infini
