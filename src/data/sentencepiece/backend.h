// The boundary between infini and SentencePiece.
//
// Debian's libsentencepiece carries its own copy of protobuf-lite and exports those symbols;
// LibTorch loads the system libprotobuf. Linked into one process, each library's protobuf calls
// bind to the other's copy and the process crashes during static initialisation. So SentencePiece
// lives in a plugin (libinfini_sentencepiece.so) that the tokenizer loads with RTLD_LOCAL |
// RTLD_DEEPBIND: its symbols stay private and bind to its own protobuf. The plugin exposes only
// this interface of virtual functions (no exceptions cross it; errors come back as text).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace infini {

class SentencePieceBackend {
 public:
  virtual ~SentencePieceBackend() = default;
  // Each returns "" on success, else SentencePiece's error text.
  virtual std::string load(const std::string& model_path) = 0;
  virtual std::string encode(const std::string& text, std::vector<int>* ids) const = 0;
  virtual std::string decode(const std::vector<int>& ids, std::string* text) const = 0;
  virtual std::string train(const std::unordered_map<std::string, std::string>& arguments) = 0;
  virtual int piece_size() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int pad_id() const = 0;
  virtual int unk_id() const = 0;
};

}  // namespace infini

// The plugin's one exported symbol; the caller owns the returned object.
extern "C" infini::SentencePieceBackend* infini_sentencepiece_create();
