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
  int64_t invalid_utf8_at = -1;  // text only: the first bad byte; such a document has no tokens
                                 // and is skipped, as `data prepare` skips it
};

class Corpus {
 public:
  virtual ~Corpus() = default;
  virtual size_t size() const = 0;
  virtual const std::string& path() const = 0;  // what was opened, for messages
  virtual int64_t vocab_size() const = 0;         // of the tokenizer the tokens come from
  // The document's first `max_tokens` tokens (0: all of them). The bytes of a prefix are not
  // known without detokenising: they are counted in proportion to the tokens kept. Shards read
  // only the prefix; text is tokenised whole and cut.
  virtual TokenizedDocument load(size_t document, int64_t max_tokens) const = 0;
  TokenizedDocument load(size_t document) const { return load(document, 0); }
};

// A shard directory (holding manifest.json) is read as shards, which must have been made with
// `tokenizer_path`; anything else is read as documents (documents.h) and tokenised on the fly.
std::unique_ptr<Corpus> open_corpus(const std::string& path, const std::string& tokenizer_path);

}  // namespace infini
