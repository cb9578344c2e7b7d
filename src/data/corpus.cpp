#include "data/corpus.h"

#include <algorithm>
#include <filesystem>

#include "core/errors.h"
#include "core/files.h"
#include "data/documents.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"

namespace infini {

namespace {

int64_t prefix_bytes(int64_t bytes, int64_t kept, int64_t total) {
  if (kept >= total || total == 0) return bytes;
  return static_cast<int64_t>(static_cast<double>(bytes) * static_cast<double>(kept) / static_cast<double>(total));
}

class TextCorpus final : public Corpus {
 public:
  TextCorpus(const std::string& path, const std::string& tokenizer_path)
      : path_(path), documents_(path), tokenizer_(tokenizer_path) {}
  size_t size() const override { return documents_.size(); }
  const std::string& path() const override { return path_; }
  int64_t vocab_size() const override { return tokenizer_.vocab_size(); }
  TokenizedDocument load(size_t i, int64_t max_tokens) const override {
    Document document = documents_.load(i);
    if (const int64_t bad = first_invalid_utf8(document.text); bad >= 0) {
      TokenizedDocument skipped{document.name, {}, 0};
      skipped.invalid_utf8_at = bad;
      return skipped;
    }
    auto tokens = tokenizer_.document_tokens(document.text);
    const auto total = static_cast<int64_t>(tokens.size());
    const int64_t kept = max_tokens > 0 ? std::min(max_tokens, total) : total;
    tokens.resize(static_cast<size_t>(kept));
    return {document.name, std::move(tokens), prefix_bytes(static_cast<int64_t>(document.text.size()), kept, total)};
  }

 private:
  std::string path_;
  DocumentSource documents_;
  Tokenizer tokenizer_;
};

class ShardCorpus final : public Corpus {
 public:
  ShardCorpus(const std::string& dir, const std::string& tokenizer_path)
      : path_(dir), shards_(dir, file_fingerprint(tokenizer_path)) {}
  size_t size() const override { return shards_.documents(); }
  const std::string& path() const override { return path_; }
  int64_t vocab_size() const override { return shards_.vocab_size(); }
  TokenizedDocument load(size_t i, int64_t max_tokens) const override {
    const auto total = static_cast<int64_t>(shards_.entry(i).tokens);
    const int64_t kept = max_tokens > 0 ? std::min(max_tokens, total) : total;
    std::vector<int64_t> tokens(static_cast<size_t>(kept));
    shards_.read(i, 0, kept, tokens.data());
    return {shards_.name(i), std::move(tokens), prefix_bytes(static_cast<int64_t>(shards_.entry(i).bytes), kept, total)};
  }

 private:
  std::string path_;
  TokenShards shards_;
};

}  // namespace

std::unique_ptr<Corpus> open_corpus(const std::string& path, const std::string& tokenizer_path) {
  if (is_shard_directory(path)) return std::make_unique<ShardCorpus>(path, tokenizer_path);
  return std::make_unique<TextCorpus>(path, tokenizer_path);
}

}  // namespace infini
