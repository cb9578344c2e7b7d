// Tokenised documents, whether tokenised now from text (DocumentSource + Tokenizer) or read from
// prepared token shards: what evaluation and validation iterate over, one whole document at a
// time, in corpus order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace infini {

struct TokenizedDocument {
  std::string name;
  std::vector<int64_t> tokens;  // [bos] + encode(text) + [eos]
  int64_t bytes = 0;            // UTF-8 bytes of the text
};

class Corpus {
 public:
  virtual ~Corpus() = default;
  virtual size_t size() const = 0;
  virtual TokenizedDocument load(size_t document) const = 0;
};

// A shard directory (holding manifest.json) is read as shards, which must have been made with
// `tokenizer_path`; anything else is read as documents (documents.h) and tokenised on the fly.
std::unique_ptr<Corpus> open_corpus(const std::string& path, const std::string& tokenizer_path);

}  // namespace infini
