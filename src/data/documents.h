// Documents on disk (SPEC section 3): a text file named explicitly (one document, whatever its
// name ends with), a directory (every *.txt below it in sorted path order: the PG-19 layout), or a
// .jsonl file (one {"text": ...} a line).
//
// Opening lists the documents; each is read only when asked for, so a corpus is never held whole
// in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infini {

struct Document {
  std::string name;
  std::string text;  // the file's bytes, unmodified
};

class DocumentSource {
 public:
  // Throws InputError when the path is missing, of an unknown kind, or holds no documents.
  explicit DocumentSource(const std::string& path);

  size_t size() const { return entries_.size(); }
  const std::string& name(size_t i) const { return entries_.at(i).name; }
  Document load(size_t i) const;
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
int64_t first_invalid_utf8(const std::string& text);

}  // namespace infini
