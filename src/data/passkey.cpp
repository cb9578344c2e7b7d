#include "data/passkey.h"

#include <cmath>

#include "core/errors.h"

namespace infini {

PasskeyTask::PasskeyTask(const Tokenizer& tokenizer)
    : tokenizer_(tokenizer),
      bos_(tokenizer.bos_id()),
      intro_(tokenizer.encode(kIntro)),
      filler_(tokenizer.encode(kFiller)),
      question_(tokenizer.encode(kQuestion)) {}

std::string PasskeyTask::key_line(int64_t key) {
  const auto digits = std::to_string(key);
  return "The pass key is " + digits + ". Remember it. " + digits + " is the pass key.";
}

int64_t PasskeyTask::shortest_prompt(int64_t key) const {
  return 1 + static_cast<int64_t>(intro_.size() + tokenizer_.encode(key_line(key)).size() + question_.size());
}

PasskeyPrompt PasskeyTask::prompt(int64_t length, double depth, int64_t key) const {
  if (!(depth >= 0.0 && depth <= 1.0)) throw InputError("passkey depth " + std::to_string(depth) + ": expected 0 to 1");
  const auto line = tokenizer_.encode(key_line(key));
  const int64_t shortest = shortest_prompt(key);
  if (length < shortest) {
    throw InputError("passkey length " + std::to_string(length) + ": shorter than the task's fixed text (" +
                     std::to_string(shortest) + " tokens)");
  }
  const int64_t filler = length - shortest;
  const auto before = static_cast<int64_t>(std::llround(depth * static_cast<double>(filler)));
  PasskeyPrompt out;
  out.tokens.reserve(static_cast<size_t>(length));
  out.tokens.push_back(bos_);
  out.tokens.insert(out.tokens.end(), intro_.begin(), intro_.end());
  // One continuous run of repeated filler, with the key line spliced in after `before` tokens.
  const auto unit = static_cast<int64_t>(filler_.size());
  for (int64_t i = 0; i < filler; ++i) {
    if (i == before) {
      out.key_position = static_cast<int64_t>(out.tokens.size());
      out.tokens.insert(out.tokens.end(), line.begin(), line.end());
    }
    out.tokens.push_back(filler_[static_cast<size_t>(i % unit)]);
  }
  if (before == filler) {
    out.key_position = static_cast<int64_t>(out.tokens.size());
    out.tokens.insert(out.tokens.end(), line.begin(), line.end());
  }
  out.tokens.insert(out.tokens.end(), question_.begin(), question_.end());
  out.answer = tokenizer_.encode(std::to_string(key));
  out.key_tokens = static_cast<int64_t>(line.size());
  return out;
}

double PasskeyTask::filler_bytes_per_token() const {
  return static_cast<double>(std::string(kFiller).size() + 1) / static_cast<double>(filler_.size());
}

double parse_depth(const std::string& text) {
  if (text == "start") return 0.0;
  if (text == "middle") return 0.5;
  if (text == "end") return 1.0;
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && value >= 0.0 && value <= 1.0) return value;
  } catch (const std::exception&) {
  }
  throw InputError("passkey depth '" + text + "': expected start, middle, end or a number from 0 to 1");
}

}  // namespace infini
