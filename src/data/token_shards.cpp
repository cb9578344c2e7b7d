#include "data/token_shards.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "core/files.h"
#include "core/json_reader.h"

namespace infini {

bool is_shard_directory(const std::string& path) {
  if (std::filesystem::exists(path + "/manifest.json")) return true;
  if (std::filesystem::exists(path + "/index.bin")) {
    throw InputError(path + ": token shards without manifest.json (re-run infini data prepare)");
  }
  return false;
}

TokenShards::TokenShards(const std::string& dir, const std::string& tokenizer_fingerprint) : dir_(dir) {
  if (!std::filesystem::is_directory(dir)) throw InputError(dir + ": no such shard directory");
  manifest_ = read_json_file(dir + "/manifest.json");
  const std::string where = dir + "/manifest.json";
  const JsonReader manifest(manifest_, where);
  if (manifest.integer_or("format", 0) != kShardFormat) {
    throw InputError(where + ": shard format " + manifest_.value("format", nlohmann::json(0)).dump() + ", expected " +
                     std::to_string(kShardFormat) + " (re-run infini data prepare)");
  }
  if (!tokenizer_fingerprint.empty() && manifest.text_or("tokenizer_fingerprint", "") != tokenizer_fingerprint) {
    throw InputError(dir + ": shards were made with another tokenizer (" + manifest.text_or("tokenizer", "?") +
                     ", fingerprint " + manifest.text_or("tokenizer_fingerprint", "?") + ", expected " +
                     tokenizer_fingerprint + ")");
  }
  const auto dtype = manifest.text("dtype");
  if (dtype != "uint16" && dtype != "uint32") manifest.fail("dtype", "uint16 or uint32");
  wide_ = dtype == "uint32";
  vocab_size_ = manifest.integer("vocab_size", 1, wide_ ? (int64_t{1} << 32) : (int64_t{1} << 16));
  const auto& shard_list = manifest.at("shards");
  if (!shard_list.is_array()) manifest.fail("shards", "a list of {\"file\": NAME} objects");
  for (const auto& shard : shard_list) {
    if (!shard.is_object()) manifest.fail("shards", "a list of {\"file\": NAME} objects");
    const auto file = JsonReader(shard, where + ": shards").text("file");
    if (file.find('/') != std::string::npos) manifest.fail("shards", "file names inside " + dir);
    shards_.emplace_back(dir + "/" + file);
  }
  MappedFile index(dir + "/index.bin");
  if (index.size() % sizeof(DocumentEntry) != 0) throw InputError(dir + "/index.bin: truncated");
  index_.resize(index.size() / sizeof(DocumentEntry));
  if (!index_.empty()) std::memcpy(index_.data(), index.data(), index.size());
  std::ifstream names(dir + "/names.txt");
  for (std::string line; std::getline(names, line);) names_.push_back(line);
  if (names_.size() != index_.size() || static_cast<int64_t>(index_.size()) != manifest_.value("documents", -1)) {
    throw InputError(dir + ": index.bin, names.txt and manifest.json disagree on the number of documents");
  }
  const size_t width = wide_ ? 4 : 2;
  for (size_t i = 0; i < index_.size(); ++i) {
    const auto& e = index_[i];
    if (e.shard >= shards_.size() || (e.offset + e.tokens) * width > shards_[e.shard].size()) {
      throw InputError(dir + ": document " + names_[i] + " lies outside its shard (truncated shard file?)");
    }
  }
  check_token_ids();
}

void TokenShards::check_token_ids() const {
  // Tokens of the index's documents are what anything reads; one pass over each shard's words.
  const size_t width = wide_ ? 4 : 2;
  for (size_t s = 0; s < shards_.size(); ++s) {
    const size_t words = shards_[s].size() / width;
    int64_t largest = -1;
    size_t at = 0;
    for (size_t i = 0; i < words; ++i) {
      const int64_t id = wide_ ? reinterpret_cast<const uint32_t*>(shards_[s].data())[i]
                               : reinterpret_cast<const uint16_t*>(shards_[s].data())[i];
      if (id > largest) largest = id, at = i;
    }
    if (largest >= vocab_size_) {
      throw InputError(shards_[s].path() + ": token id " + std::to_string(largest) + " at token " + std::to_string(at) +
                       " is not below the vocabulary size " + std::to_string(vocab_size_) + " of " + dir_ +
                       "/manifest.json");
    }
  }
}

void TokenShards::read(size_t document, int64_t offset, int64_t count, int64_t* out) const {
  const auto& e = index_.at(document);
  if (offset < 0 || count < 0 || static_cast<uint64_t>(offset + count) > e.tokens) {
    throw std::out_of_range("read past the end of document " + names_.at(document));
  }
  const char* base = shards_[e.shard].data();
  if (wide_) {
    const auto* tokens = reinterpret_cast<const uint32_t*>(base) + e.offset + offset;
    for (int64_t i = 0; i < count; ++i) out[i] = tokens[i];
  } else {
    const auto* tokens = reinterpret_cast<const uint16_t*>(base) + e.offset + offset;
    for (int64_t i = 0; i < count; ++i) out[i] = tokens[i];
  }
}

std::vector<int64_t> TokenShards::document(size_t document) const {
  std::vector<int64_t> tokens(index_.at(document).tokens);
  read(document, 0, static_cast<int64_t>(tokens.size()), tokens.data());
  return tokens;
}

TokenShardWriter::TokenShardWriter(const StagedDirectory& out, bool wide, int64_t shard_tokens)
    : out_(out), wide_(wide), shard_tokens_(shard_tokens), index_(out.path("index.bin"), std::ios::binary),
      names_(out.path("names.txt"), std::ios::binary) {}

void TokenShardWriter::add(const std::string& name, const std::vector<int64_t>& tokens, int64_t bytes) {
  if (!file_.is_open() || shard_written_ >= shard_tokens_) open_next();
  DocumentEntry entry;
  entry.shard = static_cast<uint32_t>(shards_.size() - 1);
  entry.offset = static_cast<uint64_t>(shard_written_);
  entry.tokens = tokens.size();
  entry.bytes = static_cast<uint64_t>(bytes);
  if (wide_) {
    std::vector<uint32_t> narrow(tokens.begin(), tokens.end());
    file_.write(reinterpret_cast<const char*>(narrow.data()), static_cast<std::streamsize>(narrow.size() * 4));
  } else {
    std::vector<uint16_t> narrow(tokens.begin(), tokens.end());
    file_.write(reinterpret_cast<const char*>(narrow.data()), static_cast<std::streamsize>(narrow.size() * 2));
  }
  index_.write(reinterpret_cast<const char*>(&entry), sizeof(entry));
  std::string clean = name;
  for (auto& c : clean) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  names_ << clean << "\n";
  shard_written_ += static_cast<int64_t>(tokens.size());
  shards_.back()["tokens"] = shard_written_;
}

nlohmann::json TokenShardWriter::finish() {
  const bool opened = !shards_.empty();  // closing a never-opened stream would flag a failure
  if (opened) file_.close();
  index_.close();
  names_.close();
  if ((opened && !file_) || !index_ || !names_) throw std::runtime_error("failed writing shards into " + out_.staging());
  return shards_;
}

void TokenShardWriter::open_next() {
  if (file_.is_open()) file_.close();
  char name[32];
  std::snprintf(name, sizeof(name), "tokens-%05zu.bin", shards_.size());
  file_.open(out_.path(name), std::ios::binary);
  shards_.push_back({{"file", name}, {"tokens", 0}});
  shard_written_ = 0;
}

}  // namespace infini
