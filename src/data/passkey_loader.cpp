#include "data/passkey_loader.h"

#include <random>

#include "core/errors.h"

namespace infini {

PasskeyLoader::PasskeyLoader(const std::string& tokenizer_path, PasskeyLoaderOptions options)
    : tokenizer_(tokenizer_path), task_(std::make_unique<PasskeyTask>(tokenizer_)), options_(options) {
  const auto answer = tokenizer_.encode(std::to_string(PasskeyTask::kMaxKey)).size();
  const int64_t need = task_->shortest_prompt(PasskeyTask::kMaxKey) + static_cast<int64_t>(answer);
  if (options_.sequence_length + 1 < need) {
    throw InputError("train.sequence_length " + std::to_string(options_.sequence_length) +
                     ": too short for the passkey task (needs at least " + std::to_string(need - 1) + ")");
  }
}

std::pair<std::vector<int64_t>, int64_t> PasskeyLoader::sample(int64_t n) const {
  std::seed_seq seeds{static_cast<uint64_t>(options_.seed), static_cast<uint64_t>(n), uint64_t{0x9a55c0de}};
  std::mt19937_64 rng(seeds);
  const int64_t key = std::uniform_int_distribution<int64_t>(PasskeyTask::kMinKey, PasskeyTask::kMaxKey)(rng);
  const double depth = std::uniform_real_distribution<double>(options_.min_depth, options_.max_depth)(rng);
  const auto answer = tokenizer_.encode(std::to_string(key));
  const int64_t length = options_.sequence_length + 1 - static_cast<int64_t>(answer.size());
  auto tokens = task_->prompt(length, depth, key).tokens;
  tokens.insert(tokens.end(), answer.begin(), answer.end());
  return {std::move(tokens), length};
}

LoaderBatch PasskeyLoader::next() {
  const int64_t rows = options_.batch_size, length = options_.sequence_length;
  LoaderBatch batch;
  batch.inputs = torch::empty({rows, length}, torch::kInt64);
  batch.targets = torch::empty({rows, length}, torch::kInt64);
  batch.starts = torch::zeros({rows, length}, torch::kBool);
  for (int64_t row = 0; row < rows; ++row) {
    // Rank r serves the job's samples r, r + w, r + 2w, ...
    const int64_t n = (state_.cursor * rows + row) * options_.world_size + options_.rank;
    const auto [tokens, answer_start] = sample(n);
    auto all = torch::tensor(tokens, torch::kInt64);
    batch.inputs[row].copy_(all.slice(0, 0, length));
    auto targets = all.slice(0, 1, length + 1).clone();
    // Target i predicts token i + 1: the answer's targets are those from answer_start - 1 on.
    if (options_.answer_only) targets.slice(0, 0, answer_start - 1).fill_(kIgnoreTarget);
    batch.targets[row].copy_(targets);
    batch.starts[row][0] = true;
    batch.tokens += options_.answer_only ? length + 1 - answer_start : length;
  }
  state_.cursor += 1;
  return batch;
}

}  // namespace infini
