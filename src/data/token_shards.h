// Token shards: a corpus tokenised once (`infini data prepare`) into binary files that are
// memory-mapped on read, so training never holds a corpus in RAM.
//
//   DIR/manifest.json     format, tokenizer fingerprint, vocabulary size, dtype, counts, shards
//   DIR/tokens-NNNNN.bin  each document's [bos] + tokens + [eos], back to back, little-endian
//                         uint16 when the vocabulary fits, else uint32
//   DIR/index.bin         one DocumentEntry per document
//   DIR/names.txt         one document name a line
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/staged_directory.h"

namespace infini {

struct DocumentEntry {
  uint32_t shard = 0;
  uint32_t reserved = 0;
  uint64_t offset = 0;  // in tokens, within the shard
  uint64_t tokens = 0;  // including bos and eos
  uint64_t bytes = 0;   // UTF-8 bytes of the text
};

constexpr int kShardFormat = 1;

// Whether `path` is a shard directory (it holds manifest.json). A directory holding shard files
// without their manifest is an InputError: it must never be read as a directory of text.
bool is_shard_directory(const std::string& path);

class TokenShards {
 public:
  // Opens DIR. With a non-empty `tokenizer_fingerprint`, shards made with another tokenizer are
  // an InputError naming DIR; so is a manifest of the wrong shape, an index pointing outside its
  // shard, and a token id not below the manifest's vocab_size (every token is checked once here).
  explicit TokenShards(const std::string& dir, const std::string& tokenizer_fingerprint = "");

  size_t documents() const { return index_.size(); }
  const DocumentEntry& entry(size_t document) const { return index_.at(document); }
  const std::string& name(size_t document) const { return names_.at(document); }
  // Copies tokens [offset, offset + count) of a document into `out`.
  void read(size_t document, int64_t offset, int64_t count, int64_t* out) const;
  std::vector<int64_t> document(size_t document) const;

  const nlohmann::json& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  int64_t vocab_size() const { return vocab_size_; }

 private:
  void check_token_ids() const;

  std::string dir_;
  nlohmann::json manifest_;
  bool wide_ = false;  // uint32 tokens
  int64_t vocab_size_ = 0;
  std::vector<MappedFile> shards_;
  std::vector<DocumentEntry> index_;
  std::vector<std::string> names_;
};

// Writes documents into a staged shard directory in the layout above; the caller writes
// manifest.json (with finish()'s shard list) and commits.
class TokenShardWriter {
 public:
  TokenShardWriter(const StagedDirectory& out, bool wide, int64_t shard_tokens);
  void add(const std::string& name, const std::vector<int64_t>& tokens, int64_t bytes);
  // Closes every file; returns the manifest's "shards" list.
  nlohmann::json finish();

 private:
  void open_next();

  const StagedDirectory& out_;
  bool wide_;
  int64_t shard_tokens_;
  std::ofstream file_, index_, names_;
  nlohmann::json shards_ = nlohmann::json::array();
  int64_t shard_written_ = 0;
};

}  // namespace infini
