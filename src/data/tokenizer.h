// A SentencePiece model: the document → token mapping of SPEC section 3 ([bos] + encode + [eos]),
// and training a new model through SentencePiece's trainer library.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace infini {

class SentencePieceBackend;

class Tokenizer {
 public:
  explicit Tokenizer(const std::string& model_path);  // InputError when unreadable
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;

  // Exactly SentencePiece's encoding of the whole text, in bounded working memory.
  std::vector<int64_t> encode(const std::string& text) const;
  // One SentencePiece call on the whole text: the reference `encode` must equal; its working
  // memory grows with the text (~200 bytes per byte).
  std::vector<int64_t> encode_whole(const std::string& text) const;
  // [bos] + encode(text) + [eos]
  std::vector<int64_t> document_tokens(const std::string& text) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const;
  int64_t bos_id() const;
  int64_t eos_id() const;
  int64_t pad_id() const;
  int64_t unk_id() const;

 private:
  friend class TextEncoder;
  void encode_piece(std::string_view text, std::vector<int64_t>& out) const;
  void encode_into(std::string_view text, std::vector<int64_t>& out) const;

  std::unique_ptr<SentencePieceBackend> backend_;
};

// Tokenizer::encode over text read in pieces: the same ids, handed out a chunk at a time, while
// at most about 130 KiB of the text is held (tokenizer.cpp says how chunks are cut).
class TextEncoder {
 public:
  using Read = std::function<size_t(char* buffer, size_t size)>;  // up to `size` bytes; 0 at the end
  TextEncoder(const Tokenizer& tokenizer, Read read);
  // Appends the next chunk's ids to `out`; false once the text is done.
  bool next(std::vector<int64_t>& out);

 private:
  static constexpr size_t kChunk = 64 * 1024, kWindow = 256;
  void fill(size_t wanted);
  bool clean_split(size_t p) const;
  void append(std::string_view piece, std::vector<int64_t>& out) const;

  const Tokenizer& tokenizer_;
  Read read_;
  std::string buffer_;  // the text not yet encoded, as far as it was read
  bool read_all_ = false, done_ = false;
};

// A checkpoint's tokenizer must not produce ids its model has no embedding for: InputError naming
// the checkpoint when `pieces` exceeds the model's `vocab_size` (a larger, padded vocabulary is fine).
void require_tokenizer_fits(int64_t pieces, int64_t vocab_size, const std::string& checkpoint);

struct TokenizerTrainOptions {
  std::vector<std::string> inputs;  // .txt files, directories of them, or .jsonl files
  std::string output;               // FILE.model
  int64_t vocab_size = 8000;
  std::string model_type = "bpe";         // bpe | unigram
  int64_t input_sentence_size = 2000000;  // sentences sampled from the inputs
  int64_t max_sentence_length = 1 << 20;  // bytes; SentencePiece skips longer lines (its default: 16 KiB)
  int threads = 0;                        // 0: one per core
};

// Trains with Llama's special ids (unk 0, bos 1, eos 2) and pad 3, byte fallback on. The model
// is written beside `output` first and renamed into place, so a failure leaves no partial file.
void train_tokenizer(const TokenizerTrainOptions& options);

}  // namespace infini
