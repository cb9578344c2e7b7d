// Documents on disk (SPEC section 3): a text file named explicitly (one document, whatever its
// name ends with), a directory (every *.txt below it in sorted path order: the PG-19 layout), or a
// .jsonl file (one {"text": ...} a line).
//
// Opening lists the documents; each is read only when asked for, so a corpus is never held whole
// in memory, and a text file can be read in pieces, so not even one document need be.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace infini {

struct Document {
  std::string name;
  std::string text;  // the file's bytes, unmodified
};

// One document's bytes in pieces. A text file is read from disk as asked; a .jsonl document is
// parsed whole (its text is one JSON string) and handed out from memory.
class DocumentReader {
 public:
  virtual ~DocumentReader() = default;
  // Up to `size` bytes into `buffer`; 0 once the document is done.
  virtual size_t read(char* buffer, size_t size) = 0;
  virtual int64_t bytes() const = 0;  // the whole document's
};

class DocumentSource {
 public:
  // Throws InputError when the path is missing, of an unknown kind, or holds no documents.
  explicit DocumentSource(const std::string& path);

  size_t size() const { return entries_.size(); }
  const std::string& name(size_t i) const { return entries_.at(i).name; }
  Document load(size_t i) const;
  std::unique_ptr<DocumentReader> open(size_t i) const;
  // The files the documents come from, each once, in order.
  std::vector<std::string> files() const;

 private:
  struct Entry {
    std::string name;
    std::string file;
    int64_t offset = -1;  // jsonl: the line's byte offset; -1 for a whole file
    int64_t line = 0;
  };
  std::vector<Entry> entries_;
};

// Byte offset of the first invalid UTF-8 sequence in `text`, or -1 when it is all valid.
int64_t first_invalid_utf8(std::string_view text);

// The same check over text read in pieces: a sequence cut by a piece's end is completed by the
// next piece.
class Utf8Check {
 public:
  void add(std::string_view piece);
  // The first invalid byte's offset in the whole text, or -1; call once the text is done (a
  // sequence still cut then is invalid).
  int64_t finish();

 private:
  std::string tail_;  // the cut sequence's first bytes (at most 3)
  int64_t offset_ = 0;  // of tail_'s first byte in the whole text
  int64_t invalid_at_ = -1;
};

// Every byte of `reader`'s document through Utf8Check: the first invalid byte's offset, or -1.
int64_t first_invalid_utf8(DocumentReader& reader);

}  // namespace infini
