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

// [bos] + the text's ids chunk by chunk + [eos].
class TextTokens final : public TokenStream {
 public:
  TextTokens(const Tokenizer& tokenizer, std::unique_ptr<DocumentReader> reader)
      : reader_(std::move(reader)),
        encoder_(tokenizer, [this](char* buffer, size_t size) { return reader_->read(buffer, size); }),
        bos_(tokenizer.bos_id()),
        eos_(tokenizer.eos_id()) {}
  bool next(std::vector<int64_t>& out) override {
    if (stage_ == Stage::Bos) {
      out.push_back(bos_);
      stage_ = Stage::Text;
      return true;
    }
    if (stage_ == Stage::Text) {
      const size_t had = out.size();
      while (encoder_.next(out)) {
        if (out.size() > had) return true;  // a chunk may encode to nothing (an empty text)
      }
      stage_ = Stage::Eos;
    }
    if (stage_ == Stage::Eos) {
      out.push_back(eos_);
      stage_ = Stage::Done;
      return true;
    }
    return false;
  }

 private:
  enum class Stage { Bos, Text, Eos, Done };
  std::unique_ptr<DocumentReader> reader_;
  TextEncoder encoder_;
  int64_t bos_, eos_;
  Stage stage_ = Stage::Bos;
};

class TextCorpus final : public Corpus {
 public:
  TextCorpus(const std::string& path, const std::string& tokenizer_path)
      : path_(path), documents_(path), tokenizer_(tokenizer_path) {}
  size_t size() const override { return documents_.size(); }
  const std::string& path() const override { return path_; }
  int64_t vocab_size() const override { return tokenizer_.vocab_size(); }
  OpenedDocument open(size_t i) const override {
    OpenedDocument document;
    document.name = documents_.name(i);
    auto reader = documents_.open(i);
    document.bytes = reader->bytes();
    document.invalid_utf8_at = first_invalid_utf8(*reader);
    if (document.invalid_utf8_at < 0) document.tokens = std::make_unique<TextTokens>(tokenizer_, documents_.open(i));
    return document;
  }

 private:
  std::string path_;
  DocumentSource documents_;
  Tokenizer tokenizer_;
};

// A document's tokens straight from its shard, a piece at a time.
class ShardTokens final : public TokenStream {
 public:
  ShardTokens(const TokenShards& shards, size_t document) : shards_(shards), document_(document) {}
  bool next(std::vector<int64_t>& out) override {
    constexpr int64_t kPiece = 1 << 16;
    const auto total = static_cast<int64_t>(shards_.entry(document_).tokens);
    const int64_t count = std::min(kPiece, total - given_);
    if (count <= 0) return false;
    const size_t had = out.size();
    out.resize(had + static_cast<size_t>(count));
    shards_.read(document_, given_, count, out.data() + had);
    given_ += count;
    return true;
  }

 private:
  const TokenShards& shards_;
  size_t document_;
  int64_t given_ = 0;
};

class ShardCorpus final : public Corpus {
 public:
  ShardCorpus(const std::string& dir, const std::string& tokenizer_path)
      : path_(dir), shards_(dir, file_fingerprint(tokenizer_path)) {}
  size_t size() const override { return shards_.documents(); }
  const std::string& path() const override { return path_; }
  int64_t vocab_size() const override { return shards_.vocab_size(); }
  OpenedDocument open(size_t i) const override {
    OpenedDocument document;
    document.name = shards_.name(i);
    document.bytes = static_cast<int64_t>(shards_.entry(i).bytes);
    document.tokens = std::make_unique<ShardTokens>(shards_, i);
    return document;
  }

 private:
  std::string path_;
  TokenShards shards_;
};

}  // namespace

bool VectorTokens::next(std::vector<int64_t>& out) {
  if (given_ >= tokens_.size()) return false;
  const size_t count = std::min(piece_, tokens_.size() - given_);
  out.insert(out.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(given_),
             tokens_.begin() + static_cast<std::ptrdiff_t>(given_ + count));
  given_ += count;
  return true;
}

int64_t prefix_bytes(int64_t bytes, int64_t kept, int64_t total) {
  if (kept >= total || total == 0) return bytes;
  return static_cast<int64_t>(static_cast<double>(bytes) * static_cast<double>(kept) / static_cast<double>(total));
}

TokenizedDocument Corpus::load(size_t i, int64_t max_tokens) const {
  auto opened = open(i);
  TokenizedDocument document{opened.name, {}, opened.bytes, opened.invalid_utf8_at};
  if (!opened.tokens) {
    document.bytes = 0;
    return document;
  }
  while (opened.tokens->next(document.tokens)) {
  }
  const auto total = static_cast<int64_t>(document.tokens.size());
  const int64_t kept = max_tokens > 0 ? std::min(max_tokens, total) : total;
  document.tokens.resize(static_cast<size_t>(kept));
  document.bytes = prefix_bytes(opened.bytes, kept, total);
  return document;
}

std::unique_ptr<Corpus> open_corpus(const std::string& path, const std::string& tokenizer_path) {
  if (is_shard_directory(path)) return std::make_unique<ShardCorpus>(path, tokenizer_path);
  return std::make_unique<TextCorpus>(path, tokenizer_path);
}

}  // namespace infini
