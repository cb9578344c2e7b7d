#include "data/documents.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/errors.h"

namespace fs = std::filesystem;

namespace infini {

namespace {

bool has_extension(const fs::path& path, const std::string& ext) { return path.extension() == ext; }

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path + ": cannot read");
  // Sized once and read in place: a long document costs its bytes, not the 3× of a growing stream.
  std::string text(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) throw InputError(path + ": cannot read");
  return text;
}

nlohmann::json parse_jsonl_line(const std::string& line, const std::string& file, int64_t number) {
  try {
    auto json = nlohmann::json::parse(line);
    if (!json.is_object() || !json.contains("text") || !json["text"].is_string()) {
      throw InputError(file + ":" + std::to_string(number) + ": expected an object with a string field \"text\"");
    }
    return json;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file + ":" + std::to_string(number) + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

DocumentSource::DocumentSource(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path + ": no such file or directory");
  if (fs::is_directory(path)) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(path)) {
      if (entry.is_regular_file() && has_extension(entry.path(), ".txt")) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      entries_.push_back({fs::relative(file, path).string(), file, -1, 0});
    }
    if (entries_.empty()) throw InputError(path + ": directory holds no .txt documents");
  } else if (has_extension(path, ".jsonl")) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot read");
    std::string line;
    int64_t number = 0;
    int64_t offset = 0;
    while (std::getline(in, line)) {
      ++number;
      const int64_t line_offset = offset;
      offset += static_cast<int64_t>(line.size()) + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto json = parse_jsonl_line(line, path, number);
      std::string name = std::to_string(number);
      if (json.contains("id")) name = json["id"].is_string() ? json["id"].get<std::string>() : json["id"].dump();
      entries_.push_back({name, path, line_offset, number});
    }
    if (entries_.empty()) throw InputError(path + ": no documents (no JSON lines)");
  } else if (fs::is_regular_file(path)) {  // named explicitly: text, whatever its name ends with
    entries_.push_back({fs::path(path).filename().string(), path, -1, 0});
  } else {
    throw InputError(path + ": expected a text file, a .jsonl file or a directory of .txt files");
  }
}

std::vector<std::string> DocumentSource::files() const {
  std::vector<std::string> out;
  for (const auto& entry : entries_) {
    if (out.empty() || out.back() != entry.file) out.push_back(entry.file);
  }
  return out;
}

namespace {

class FileReader final : public DocumentReader {
 public:
  explicit FileReader(const std::string& path) : in_(path, std::ios::binary | std::ios::ate) {
    if (!in_) throw InputError(path + ": cannot read");
    bytes_ = static_cast<int64_t>(in_.tellg());
    in_.seekg(0);
  }
  size_t read(char* buffer, size_t size) override {
    in_.read(buffer, static_cast<std::streamsize>(size));
    return static_cast<size_t>(in_.gcount());
  }
  int64_t bytes() const override { return bytes_; }

 private:
  std::ifstream in_;
  int64_t bytes_ = 0;
};

class StringReader final : public DocumentReader {
 public:
  explicit StringReader(std::string text) : text_(std::move(text)) {}
  size_t read(char* buffer, size_t size) override {
    const size_t n = std::min(size, text_.size() - position_);
    std::copy_n(text_.data() + position_, n, buffer);
    position_ += n;
    return n;
  }
  int64_t bytes() const override { return static_cast<int64_t>(text_.size()); }

 private:
  std::string text_;
  size_t position_ = 0;
};

}  // namespace

std::unique_ptr<DocumentReader> DocumentSource::open(size_t i) const {
  const auto& entry = entries_.at(i);
  if (entry.offset < 0) return std::make_unique<FileReader>(entry.file);
  return std::make_unique<StringReader>(load(i).text);
}

Document DocumentSource::load(size_t i) const {
  const auto& entry = entries_.at(i);
  if (entry.offset < 0) return {entry.name, read_whole_file(entry.file)};
  std::ifstream in(entry.file, std::ios::binary);
  in.seekg(entry.offset);
  std::string line;
  std::getline(in, line);
  auto json = parse_jsonl_line(line, entry.file, entry.line);
  return {entry.name, json["text"].get<std::string>()};
}

namespace {

// Where the valid prefix of `text` ends: at its first invalid sequence (*invalid set) or, with
// `cut_allowed`, at a sequence the end cuts short whose bytes so far are valid.
size_t valid_prefix(std::string_view text, bool cut_allowed, bool* invalid) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  *invalid = false;
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0) break;
    const size_t present = std::min(length, n - i);
    bool continuation = true;
    for (size_t k = 1; k < present; ++k) continuation = continuation && (s[i + k] & 0xC0) == 0x80;
    if (!continuation) break;
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
    if ((length == 2 && c < 0xC2) || (present > 1 && length == 3 && c == 0xE0 && s[i + 1] < 0xA0) ||
        (present > 1 && length == 3 && c == 0xED && s[i + 1] >= 0xA0) ||
        (present > 1 && length == 4 && c == 0xF0 && s[i + 1] < 0x90) ||
        (length == 4 && (c > 0xF4 || (present > 1 && c == 0xF4 && s[i + 1] >= 0x90)))) {
      break;
    }
    if (present < length) {
      if (cut_allowed) return i;
      break;
    }
    i += length;
  }
  *invalid = i < n;
  return i;
}

}  // namespace

int64_t first_invalid_utf8(std::string_view text) {
  bool invalid = false;
  const size_t end = valid_prefix(text, false, &invalid);
  return invalid ? static_cast<int64_t>(end) : -1;
}

void Utf8Check::add(std::string_view piece) {
  if (invalid_at_ >= 0 || piece.empty()) return;
  if (!tail_.empty()) {  // complete the cut sequence with the piece's first bytes
    const size_t taken = std::min<size_t>(4 - tail_.size(), piece.size());
    tail_.append(piece.substr(0, taken));
    bool invalid = false;
    const size_t end = valid_prefix(tail_, true, &invalid);
    if (invalid) {
      invalid_at_ = offset_ + static_cast<int64_t>(end);
      return;
    }
    if (end == 0) return;  // still cut: the piece was shorter than the sequence's rest
    // The sequence is whole: go on in the piece after its last byte.
    const size_t used = end - (tail_.size() - taken);
    offset_ += static_cast<int64_t>(end);
    tail_.clear();
    piece.remove_prefix(used);
  }
  bool invalid = false;
  const size_t end = valid_prefix(piece, true, &invalid);
  if (invalid) {
    invalid_at_ = offset_ + static_cast<int64_t>(end);
    return;
  }
  tail_.assign(piece.substr(end));
  offset_ += static_cast<int64_t>(end);
}

int64_t Utf8Check::finish() {
  if (invalid_at_ < 0 && !tail_.empty()) invalid_at_ = offset_;
  return invalid_at_;
}

int64_t first_invalid_utf8(DocumentReader& reader) {
  Utf8Check check;
  std::string buffer(1 << 20, '\0');
  while (const size_t got = reader.read(buffer.data(), buffer.size())) check.add(std::string_view(buffer.data(), got));
  return check.finish();
}

}  // namespace infini
