// Tokenised documents, whether tokenised now from text (DocumentSource + Tokenizer) or read from
// prepared token shards: what evaluation and validation iterate over, one document at a time, in
// corpus order. A document's tokens can be read in pieces, so one of any length is scored in
// bounded memory (a .jsonl document's text excepted: it is parsed whole).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace infini {

// One document's tokens ([bos] + encode(text) + [eos]) in pieces.
class TokenStream {
 public:
  virtual ~TokenStream() = default;
  // Appends the next piece (at least one token) to `out`; false once every token was given.
  virtual bool next(std::vector<int64_t>& out) = 0;
};

// A vector's tokens in pieces of `piece`, without copying the vector; counts what it gave.
class VectorTokens final : public TokenStream {
 public:
  VectorTokens(const std::vector<int64_t>& tokens, size_t piece) : tokens_(tokens), piece_(piece) {}
  bool next(std::vector<int64_t>& out) override;
  size_t given() const { return given_; }

 private:
  const std::vector<int64_t>& tokens_;
  size_t piece_, given_ = 0;
};

struct OpenedDocument {
  std::string name;
  int64_t bytes = 0;             // UTF-8 bytes of the whole text
  int64_t invalid_utf8_at = -1;  // text only: the first bad byte; such a document has no tokens
                                 // and is skipped, as `data prepare` skips it
  std::unique_ptr<TokenStream> tokens;  // null for a skipped document
};

struct TokenizedDocument {
  std::string name;
  std::vector<int64_t> tokens;
  int64_t bytes = 0;
  int64_t invalid_utf8_at = -1;
};

class Corpus {
 public:
  virtual ~Corpus() = default;
  virtual size_t size() const = 0;
  virtual const std::string& path() const = 0;  // what was opened, for messages
  virtual int64_t vocab_size() const = 0;         // of the tokenizer the tokens come from
  // Text is checked for valid UTF-8 on opening (read through once).
  virtual OpenedDocument open(size_t document) const = 0;
  // The document's first `max_tokens` tokens (0: all of them), read whole. The bytes of a prefix
  // are not known without detokenising: they are counted in proportion to the tokens kept.
  TokenizedDocument load(size_t document, int64_t max_tokens = 0) const;
};

// The bytes of a document's first `kept` of `total` tokens, in proportion.
int64_t prefix_bytes(int64_t bytes, int64_t kept, int64_t total);

// A shard directory (holding manifest.json) is read as shards, which must have been made with
// `tokenizer_path`; anything else is read as documents (documents.h) and tokenised on the fly.
std::unique_ptr<Corpus> open_corpus(const std::string& path, const std::string& tokenizer_path);

}  // namespace infini
