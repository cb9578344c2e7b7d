#include "data/corpus.h"

#include <filesystem>

#include "core/files.h"
#include "data/documents.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"

namespace infini {

namespace {

class TextCorpus final : public Corpus {
 public:
  TextCorpus(const std::string& path, const std::string& tokenizer_path)
      : documents_(path), tokenizer_(tokenizer_path) {}
  size_t size() const override { return documents_.size(); }
  TokenizedDocument load(size_t i) const override {
    Document document = documents_.load(i);
    return {document.name, tokenizer_.document_tokens(document.text), static_cast<int64_t>(document.text.size())};
  }

 private:
  DocumentSource documents_;
  Tokenizer tokenizer_;
};

class ShardCorpus final : public Corpus {
 public:
  ShardCorpus(const std::string& dir, const std::string& tokenizer_path)
      : shards_(dir, file_fingerprint(tokenizer_path)) {}
  size_t size() const override { return shards_.documents(); }
  TokenizedDocument load(size_t i) const override {
    return {shards_.name(i), shards_.document(i), static_cast<int64_t>(shards_.entry(i).bytes)};
  }

 private:
  TokenShards shards_;
};

}  // namespace

std::unique_ptr<Corpus> open_corpus(const std::string& path, const std::string& tokenizer_path) {
  if (std::filesystem::exists(path + "/manifest.json")) return std::make_unique<ShardCorpus>(path, tokenizer_path);
  return std::make_unique<TextCorpus>(path, tokenizer_path);
}

}  // namespace infini
