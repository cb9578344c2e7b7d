#include "data/passkey.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace infini {

namespace {

// "The grass is green. The sky is blue." → {"The grass is green.", "The sky is blue."}
std::vector<std::string> sentences_of(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find(". ", begin);
    end = end == std::string::npos ? text.size() : end + 1;
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

}  // namespace

PasskeyTask::PasskeyTask(const Tokenizer& tokenizer)
    : tokenizer_(tokenizer),
      bos_(tokenizer.bos_id()),
      pad_(tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : tokenizer.unk_id()),
      intro_(tokenizer.encode(kIntro)),
      question_(tokenizer.encode(kQuestion)) {
  for (const auto& sentence : sentences_of(kFiller)) sentences_.push_back(tokenizer.encode(sentence));
}

std::string PasskeyTask::key_line(int64_t key) {
  const auto digits = std::to_string(key);
  return "The pass key is " + digits + ". Remember it. " + digits + " is the pass key.";
}

int64_t PasskeyTask::shortest_with_line(int64_t line_tokens, int64_t segment_length) const {
  const auto head = 1 + static_cast<int64_t>(intro_.size());
  const auto question = static_cast<int64_t>(question_.size());
  const int64_t table3 = head + line_tokens + question;
  if (segment_length <= 0) return table3;
  // The key right after the intro; the question starts two segments after the key line's last.
  const int64_t key_segment = (head + line_tokens - 1) / segment_length;
  return std::max(table3, (key_segment + 2) * segment_length + question);
}

int64_t PasskeyTask::shortest_prompt(int64_t key, int64_t segment_length) const {
  return shortest_with_line(static_cast<int64_t>(tokenizer_.encode(key_line(key)).size()), segment_length);
}

void PasskeyTask::require_length(int64_t length, int64_t key, int64_t segment_length) const {
  const int64_t shortest = shortest_prompt(key, segment_length);
  if (length >= shortest) return;
  throw InputError("passkey length " + std::to_string(length) + ": shorter than the task's fixed text (" +
                   std::to_string(shortest) + " tokens" +
                   (segment_length > 0 ? " with a whole segment of " + std::to_string(segment_length) +
                                             " between key and question"
                                       : std::string()) +
                   ")");
}

PasskeyPrompt PasskeyTask::prompt(int64_t length, double depth, int64_t key, int64_t segment_length,
                                  bool with_line) const {
  if (!(depth >= 0.0 && depth <= 1.0)) throw InputError("passkey depth " + std::to_string(depth) + ": expected 0 to 1");
  const auto line = tokenizer_.encode(key_line(key));
  if (length < shortest_with_line(static_cast<int64_t>(line.size()), segment_length)) {
    require_length(length, key, segment_length);  // throws, naming the shortest length
  }
  // Without the line its place goes to the filler: the same layout with a line of no tokens.
  const auto placed = with_line ? line : std::vector<int64_t>{};
  const auto head = 1 + static_cast<int64_t>(intro_.size());
  const auto key_tokens = static_cast<int64_t>(placed.size());
  const int64_t question_position = length - static_cast<int64_t>(question_.size());
  // Whole filler sentences, in order, as many as fit; `ends[m]` is the filler length after m.
  const int64_t room = question_position - head - key_tokens;
  std::vector<int64_t> ends = {0};
  for (size_t s = 0;; s = (s + 1) % sentences_.size()) {
    const int64_t next = ends.back() + static_cast<int64_t>(sentences_[s].size());
    if (next > room) break;
    ends.push_back(next);
  }
  // The key line goes after sentence `m`; the memory-only layout bounds m so that a whole
  // segment separates the key line's last token from the question.
  auto allowed = [&](size_t m) {
    if (segment_length <= 0) return true;
    const int64_t key_end = head + ends[m] + key_tokens - 1;
    return key_end / segment_length + 2 <= question_position / segment_length;
  };
  size_t last = ends.size() - 1;
  while (last > 0 && !allowed(last)) --last;
  const auto m = static_cast<size_t>(std::llround(depth * static_cast<double>(last)));

  PasskeyPrompt out;
  out.tokens.reserve(static_cast<size_t>(length));
  out.tokens.push_back(bos_);
  out.tokens.insert(out.tokens.end(), intro_.begin(), intro_.end());
  for (size_t s = 0; s + 1 < ends.size(); ++s) {
    if (s == m) {
      out.key_position = static_cast<int64_t>(out.tokens.size());
      out.tokens.insert(out.tokens.end(), placed.begin(), placed.end());
    }
    const auto& sentence = sentences_[s % sentences_.size()];
    out.tokens.insert(out.tokens.end(), sentence.begin(), sentence.end());
  }
  if (m + 1 == ends.size()) {
    out.key_position = static_cast<int64_t>(out.tokens.size());
    out.tokens.insert(out.tokens.end(), placed.begin(), placed.end());
  }
  if (!with_line) out.key_position = -1;
  out.pad_tokens = question_position - static_cast<int64_t>(out.tokens.size());
  out.tokens.insert(out.tokens.end(), static_cast<size_t>(out.pad_tokens), pad_);
  out.question_position = question_position;
  out.tokens.insert(out.tokens.end(), question_.begin(), question_.end());
  out.answer = tokenizer_.encode(std::to_string(key));
  out.key_tokens = key_tokens;
  return out;
}

double PasskeyTask::filler_bytes_per_token() const {
  int64_t tokens = 0;
  for (const auto& sentence : sentences_) tokens += static_cast<int64_t>(sentence.size());
  return static_cast<double>(std::string(kFiller).size() + 1) / static_cast<double>(tokens);
}

PasskeyKeyRange passkey_key_range(int64_t digits, const std::string& what) {
  if (digits < 1 || digits > PasskeyTask::kMaxKeyDigits) {
    throw InputError(what + " " + std::to_string(digits) + ": expected 1 to " +
                     std::to_string(PasskeyTask::kMaxKeyDigits));
  }
  int64_t high = 1;
  for (int64_t d = 0; d < digits; ++d) high *= 10;
  return {digits == 1 ? 0 : high / 10, high - 1};
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
