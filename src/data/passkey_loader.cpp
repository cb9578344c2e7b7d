#include "data/passkey_loader.h"

#include <cmath>
#include <random>

#include "core/errors.h"

namespace infini {

namespace {

std::mt19937_64 sample_rng(uint64_t seed, int64_t n) {
  std::seed_seq seeds{seed, static_cast<uint64_t>(n), uint64_t{0x9a55c0de}};
  return std::mt19937_64(seeds);
}

}  // namespace

PasskeyLoader::PasskeyLoader(const std::string& tokenizer_path, PasskeyLoaderOptions options)
    : tokenizer_(tokenizer_path),
      task_(std::make_unique<PasskeyTask>(tokenizer_)),
      options_(options),
      keys_(passkey_key_range(options.key_digits, "data.passkey_key_digits")) {
  const int64_t segment = options_.segment_length;
  if (segment <= 0 || options_.sequence_length % segment != 0) {
    throw InputError("train.sequence_length " + std::to_string(options_.sequence_length) +
                     ": must be a multiple of the segment length " + std::to_string(segment));
  }
  answer_tokens_ = static_cast<int64_t>(tokenizer_.encode(std::to_string(keys_.high)).size());
  question_tokens_ = static_cast<int64_t>(tokenizer_.encode(PasskeyTask::kQuestion).size());
  if (question_tokens_ + answer_tokens_ > segment) {
    throw InputError("segment_length " + std::to_string(segment) + ": the passkey question and answer (" +
                     std::to_string(question_tokens_ + answer_tokens_) + " tokens) do not fit in one segment");
  }
  // The fewest segments whose prompt, ending question_tokens_ into the last, holds the layout.
  const int64_t shortest =
      std::max(task_->shortest_prompt(keys_.low, segment), task_->shortest_prompt(keys_.high, segment));
  const int64_t fewest = (shortest - question_tokens_ + segment - 1) / segment + 1;
  const int64_t row = options_.sequence_length / segment;
  if (row < fewest) {
    throw InputError("train.sequence_length " + std::to_string(options_.sequence_length) +
                     ": too short for the passkey task (needs at least " + std::to_string(fewest * segment) +
                     " tokens: " + std::to_string(fewest) + " segments of " + std::to_string(segment) + ")");
  }
  if (!(options_.dilution >= 1.0)) {
    throw InputError("data.passkey_dilution " + std::to_string(options_.dilution) + ": expected 1 or more");
  }
  if (!(options_.keyless_share >= 0.0 && options_.keyless_share < 1.0)) {
    throw InputError("data.passkey_keyless_share " + std::to_string(options_.keyless_share) + ": expected 0 to below 1");
  }
  min_segments_ = std::max(fewest, options_.min_segments);
  max_segments_ = options_.max_segments > 0 ? std::min(row, options_.max_segments) : row;
  if (min_segments_ > max_segments_) {
    throw InputError("data.passkey_min_segments " + std::to_string(min_segments_) + ": more than the " +
                     std::to_string(max_segments_) + " segments a row or passkey_max_segments allows");
  }
}

int64_t PasskeyLoader::drawn_segments(int64_t n) const {
  auto rng = sample_rng(options_.seed ^ 0x5e6u, n);
  int64_t longest = max_segments_;
  if (options_.curriculum_samples > 0 && n < options_.curriculum_samples) {
    const double grown = static_cast<double>(n) / static_cast<double>(options_.curriculum_samples);
    longest = min_segments_ + static_cast<int64_t>(grown * static_cast<double>(max_segments_ - min_segments_));
  }
  const double low = std::log(static_cast<double>(min_segments_));
  const double high = std::log(static_cast<double>(longest + 1));
  const auto k = static_cast<int64_t>(std::exp(std::uniform_real_distribution<double>(low, high)(rng)));
  return std::clamp(k, min_segments_, longest);
}

PasskeySample PasskeyLoader::sample(int64_t n, int64_t segments) const {
  auto rng = sample_rng(options_.seed, n);
  PasskeySample out;
  out.key = std::uniform_int_distribution<int64_t>(keys_.low, keys_.high)(rng);
  const double depth = std::uniform_real_distribution<double>(options_.min_depth, options_.max_depth)(rng);
  const int64_t segment = options_.segment_length;
  // The prompt ends `into` tokens into the last segment, leaving room for the answer there.
  const int64_t into =
      std::uniform_int_distribution<int64_t>(question_tokens_, segment - answer_tokens_)(rng);
  if (options_.keyless_share > 0.0) out.keyless = std::uniform_real_distribution<double>()(rng) < options_.keyless_share;
  out.prompt = task_->prompt((segments - 1) * segment + into, depth, out.key, segment, !out.keyless);
  out.answer_start = static_cast<int64_t>(out.prompt.tokens.size());
  out.inputs = out.prompt.tokens;
  out.inputs.insert(out.inputs.end(), out.prompt.answer.begin(), out.prompt.answer.end());
  const auto predicted = static_cast<int64_t>(out.inputs.size()) - 1;  // up to the answer's last token
  out.inputs.resize(static_cast<size_t>(segments * segment), task_->pad());
  out.targets.assign(out.inputs.size(), kIgnoreTarget);
  // Its own generator, so the dilution changes no other draw of the sample.
  auto dilution_rng = sample_rng(options_.seed ^ 0xd11u, n);
  out.filler_weight = std::exp(std::uniform_real_distribution<double>(0.0, std::log(options_.dilution))(dilution_rng));
  out.write_weights.assign(static_cast<size_t>(segments), static_cast<float>(out.filler_weight));
  out.write_weights.back() = 1.0F;
  if (out.prompt.key_position >= 0) {
    const int64_t last_key_token = out.prompt.key_position + out.prompt.key_tokens - 1;
    for (int64_t j = out.prompt.key_position / segment; j <= last_key_token / segment; ++j) {
      out.write_weights[static_cast<size_t>(j)] = 1.0F;
    }
  }
  // Target i predicts token i + 1: the answer's targets are those from answer_start - 1 on, the
  // key line's those from key_position - 1 to the line's last token.
  auto predict = [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < to; ++i) out.targets[static_cast<size_t>(i)] = out.inputs[static_cast<size_t>(i + 1)];
  };
  if (options_.targets == PasskeyTargets::All) {
    predict(0, predicted);
  } else {
    predict(out.answer_start - 1, predicted);
    if (options_.targets == PasskeyTargets::KeyLine) {
      predict(out.prompt.key_position - 1, out.prompt.key_position + out.prompt.key_tokens - 1);
    }
  }
  return out;
}

LoaderBatch PasskeyLoader::next() {
  const int64_t rows = options_.batch_size, length = options_.sequence_length, segment = options_.segment_length;
  LoaderBatch batch;
  batch.inputs = torch::empty({rows, length}, torch::kInt64);
  batch.targets = torch::empty({rows, length}, torch::kInt64);
  batch.starts = torch::zeros({rows, length}, torch::kBool);
  auto inputs = batch.inputs.accessor<int64_t, 2>();
  auto targets = batch.targets.accessor<int64_t, 2>();
  auto starts = batch.starts.accessor<bool, 2>();
  auto write_weights = torch::ones({rows, length / segment}, torch::kFloat32);
  auto weights = write_weights.accessor<float, 2>();
  for (int64_t row = 0; row < rows; ++row) {
    int64_t room = length / segment;  // segments left in the row
    while (room > 0) {
      // Rank r serves the job's samples r, r + w, r + 2w, ...
      const int64_t n = state_.cursor * options_.world_size + options_.rank;
      state_.cursor += 1;
      int64_t segments = options_.pack ? std::min(drawn_segments(n), room) : room;
      // A remainder too small for another sample goes to this one.
      if (room - segments < min_segments_) segments = room;
      const auto s = sample(n, segments);
      const int64_t at = length - room * segment;
      for (size_t i = 0; i < s.inputs.size(); ++i) {
        inputs[row][at + static_cast<int64_t>(i)] = s.inputs[i];
        targets[row][at + static_cast<int64_t>(i)] = s.targets[i];
        batch.tokens += s.targets[i] != kIgnoreTarget;
      }
      starts[row][at] = true;
      for (int64_t j = 0; j < segments; ++j) weights[row][at / segment + j] = s.write_weights[static_cast<size_t>(j)];
      room -= segments;
    }
  }
  if (options_.dilution > 1.0) batch.write_weights = write_weights;  // else every write counts once
  return batch;
}

}  // namespace infini
