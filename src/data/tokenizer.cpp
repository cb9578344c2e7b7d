#include "data/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <unordered_map>

#include "core/errors.h"
#include "data/documents.h"
#include "data/sentencepiece/backend.h"

namespace infini {

namespace {

// Finds libinfini_sentencepiece.so beside the running binary (or where the build put it) and
// loads it privately; see sentencepiece/backend.h.
std::unique_ptr<SentencePieceBackend> make_backend() {
  using create_fn = SentencePieceBackend* (*)();
  static create_fn create = [] {
    std::vector<std::string> candidates;
    if (const char* dir = std::getenv("INFINI_PLUGIN_DIR")) candidates.push_back(dir);
    std::error_code error;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) candidates.push_back(exe.parent_path().string());
    candidates.push_back(INFINI_PLUGIN_DIR);
    std::string tried;
    for (const auto& dir : candidates) {
      const std::string path = dir + "/libinfini_sentencepiece.so";
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (handle) return reinterpret_cast<create_fn>(::dlsym(handle, "infini_sentencepiece_create"));
      tried += std::string(tried.empty() ? "" : "; ") + ::dlerror();
    }
    throw std::runtime_error("cannot load the SentencePiece plugin: " + tried);
  }();
  if (!create) throw std::runtime_error("the SentencePiece plugin lacks infini_sentencepiece_create");
  return std::unique_ptr<SentencePieceBackend>(create());
}

}  // namespace

Tokenizer::Tokenizer(const std::string& model_path) : backend_(make_backend()) {
  if (!std::filesystem::is_regular_file(model_path)) throw InputError(model_path + ": no such tokenizer file");
  auto error = backend_->load(model_path);
  // SentencePiece's own text ("Internal: could not parse ModelProto ...") says no more than this.
  if (!error.empty()) throw InputError(model_path + ": not a SentencePiece model (it cannot be parsed)");
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;

void Tokenizer::encode_piece(std::string_view text, std::vector<int64_t>& out) const {
  std::vector<int> ids;
  auto error = backend_->encode(std::string(text), &ids);
  if (!error.empty()) throw InputError("tokenizer: " + error);
  out.insert(out.end(), ids.begin(), ids.end());
}

// SentencePiece's encoder needs ~200 bytes of working memory per input byte, so a book encoded
// in one call would make peak memory grow with document length. Long texts are encoded in
// chunks split at single spaces: no piece spans "x▁y" across the ▁ (pieces start at ▁), and the
// dummy-prefix ▁ that SentencePiece puts before each chunk stands for the dropped space. Each
// split point is checked on a window around it (split and whole encodings must agree); where
// a model behaves otherwise, the rest of the text is encoded whole.
//
// The encoder holds at most two chunks and a window of the text: a split point is looked for in
// [kChunk, 2·kChunk) of what is left, so the choice is the same whether the text is all there or
// arrives in pieces.
TextEncoder::TextEncoder(const Tokenizer& tokenizer, Read read) : tokenizer_(tokenizer), read_(std::move(read)) {}

void TextEncoder::fill(size_t wanted) {
  constexpr size_t kBlock = 1 << 20;
  while (!read_all_ && buffer_.size() < wanted) {
    const size_t had = buffer_.size();
    buffer_.resize(had + std::min(kBlock, wanted - had));
    const size_t got = read_(buffer_.data() + had, buffer_.size() - had);
    buffer_.resize(had + got);
    read_all_ = got == 0;
  }
}

bool TextEncoder::clean_split(size_t p) const {
  const std::string_view text(buffer_);
  if (text[p] != ' ' || text[p - 1] == ' ' || text[p + 1] == ' ') return false;
  const size_t a = p - std::min(p, kWindow), b = std::min(text.size(), p + kWindow);
  std::vector<int64_t> whole, split;
  tokenizer_.encode_piece(text.substr(a, b - a), whole);
  tokenizer_.encode_piece(text.substr(a, p - a), split);
  tokenizer_.encode_piece(text.substr(p + 1, b - p - 1), split);
  return whole == split;
}

void TextEncoder::append(std::string_view piece, std::vector<int64_t>& out) const {
  // A long document's ids grow by a quarter at a time, each chunk's room made before it is
  // encoded (a chunk of n bytes has at most n ids): the vector's doubling would peak at 3× its size.
  if (out.capacity() - out.size() < piece.size() + 1) {
    out.reserve(std::max(out.size() + piece.size() + 1, out.size() + out.size() / 4));
  }
  tokenizer_.encode_piece(piece, out);
}

bool TextEncoder::next(std::vector<int64_t>& out) {
  if (done_) return false;
  fill(2 * kChunk + kWindow + 1);  // a split point's window lies inside, or the text is all there
  if (buffer_.size() > 2 * kChunk) {
    size_t p = buffer_.find(' ', kChunk);
    while (p < 2 * kChunk && !clean_split(p)) p = buffer_.find(' ', p + 1);
    if (p < 2 * kChunk) {
      append(std::string_view(buffer_).substr(0, p), out);
      buffer_.erase(0, p + 1);
      return true;
    }
    fill(std::string::npos);  // no clean split point: encode the rest whole
  }
  append(buffer_, out);
  buffer_ = std::string();
  done_ = true;
  return true;
}

void Tokenizer::encode_into(std::string_view text, std::vector<int64_t>& out) const {
  size_t position = 0;
  TextEncoder encoder(*this, [&](char* buffer, size_t size) {
    const size_t n = std::min(size, text.size() - position);
    std::copy_n(text.data() + position, n, buffer);
    position += n;
    return n;
  });
  while (encoder.next(out)) {
  }
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  encode_into(text, ids);
  return ids;
}

std::vector<int64_t> Tokenizer::encode_whole(const std::string& text) const {
  std::vector<int64_t> ids;
  encode_piece(text, ids);
  return ids;
}

std::vector<int64_t> Tokenizer::document_tokens(const std::string& text) const {
  std::vector<int64_t> tokens{bos_id()};
  encode_into(text, tokens);
  tokens.push_back(eos_id());
  return tokens;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> narrow(ids.begin(), ids.end());
  std::string text;
  auto error = backend_->decode(narrow, &text);
  if (!error.empty()) throw InputError("tokenizer: " + error);
  return text;
}

int64_t Tokenizer::vocab_size() const { return backend_->piece_size(); }

void require_tokenizer_fits(int64_t pieces, int64_t vocab_size, const std::string& checkpoint) {
  if (pieces <= vocab_size) return;
  throw InputError(checkpoint + ": tokenizer.model has " + std::to_string(pieces) + " pieces but config.json's vocab_size is " +
                   std::to_string(vocab_size) + " (the tokenizer does not belong to this model)");
}
int64_t Tokenizer::bos_id() const { return backend_->bos_id(); }
int64_t Tokenizer::eos_id() const { return backend_->eos_id(); }
int64_t Tokenizer::pad_id() const { return backend_->pad_id(); }
int64_t Tokenizer::unk_id() const { return backend_->unk_id(); }

namespace {

// SentencePiece's trainer fails with its own CHECK text ("Internal: ./src/trainer_interface.cc(580)
// [...] Vocabulary size is smaller than required_chars. 100 vs 304. ..."): say it in our words.
std::string trainer_failure(const std::string& error, const std::string& inputs, int64_t vocab_size) {
  const std::string vocab = std::to_string(vocab_size);
  std::smatch m;
  if (std::regex_search(error, m, std::regex("required_chars\\. \\d+ vs (\\d+)"))) {
    return inputs + ": --vocab-size " + vocab + " is too small for this text, whose " + m[1].str() +
           " characters and special pieces need one piece each (use at least " + m[1].str() + ")";
  }
  if (std::regex_search(error, m, std::regex("value <= (\\d+)"))) {
    return inputs + ": --vocab-size " + vocab + " is more than this text can fill (use at most " + m[1].str() + ")";
  }
  if (error.find("sentences_.empty()") != std::string::npos) return inputs + ": no text to train on";
  std::string reason = error;  // drop the source location and condition, keep the message
  if (const auto bracket = reason.find("] "); bracket != std::string::npos) reason = reason.substr(bracket + 2);
  return inputs + ": SentencePiece could not train a tokenizer" + (reason.empty() ? "" : " (" + reason + ")");
}

}  // namespace

void train_tokenizer(const TokenizerTrainOptions& o) {
  if (o.inputs.empty()) throw InputError("tokenizer train: no --input given");
  if (std::filesystem::is_directory(o.output)) {
    throw InputError(o.output + ": is a directory; --out names the FILE.model to write");
  }
  // SentencePiece reads text files line by line: a directory contributes its .txt files, and a
  // .jsonl file its texts through a temporary file beside the output.
  std::string inputs;
  std::vector<std::string> temporaries;
  auto add = [&](const std::string& file) { inputs += (inputs.empty() ? "" : ",") + file; };
  for (const auto& input : o.inputs) {
    DocumentSource source(input);
    if (std::filesystem::path(input).extension() == ".jsonl") {
      temporaries.push_back(o.output + ".texts-" + std::to_string(::getpid()) + "-" + std::to_string(temporaries.size()));
      std::ofstream texts(temporaries.back(), std::ios::binary);
      for (size_t i = 0; i < source.size(); ++i) texts << source.load(i).text << "\n";
      add(temporaries.back());
    } else {
      for (const auto& file : source.files()) add(file);
    }
  }
  struct Cleanup {
    std::vector<std::string>& files;
    ~Cleanup() {
      std::error_code ignored;
      for (const auto& f : files) std::filesystem::remove(f, ignored);
    }
  } cleanup{temporaries};
  if (o.model_type != "bpe" && o.model_type != "unigram") {
    throw InputError("tokenizer train: --model-type is '" + o.model_type + "', expected bpe or unigram");
  }
  // Train under a private name, then rename: an existing model is replaced only by a whole one.
  std::string base = o.output;
  if (base.size() > 6 && base.compare(base.size() - 6, 6, ".model") == 0) base.resize(base.size() - 6);
  const std::string prefix = base + ".training-" + std::to_string(::getpid());
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Llama's special ids: unk 0, bos 1, eos 2; pad 3 so batches can be padded. Identity
  // normalisation keeps the text's bytes as they are (SPEC section 3).
  const std::unordered_map<std::string, std::string> args = {
      {"input", inputs},
      {"model_prefix", prefix},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"model_type", o.model_type},
      {"byte_fallback", "true"},
      {"character_coverage", "0.9995"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      {"input_sentence_size", std::to_string(o.input_sentence_size)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", std::to_string(o.max_sentence_length)},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"remove_extra_whitespaces", "false"},
      {"normalization_rule_name", "identity"},
      {"num_threads", std::to_string(threads)},
      {"minloglevel", "2"},
  };
  auto error = make_backend()->train(args);
  std::error_code ignored;
  if (!error.empty()) {
    std::filesystem::remove(prefix + ".model", ignored);
    std::filesystem::remove(prefix + ".vocab", ignored);
    std::string names;
    for (const auto& input : o.inputs) names += (names.empty() ? "" : ", ") + input;
    throw InputError(trainer_failure(error, names, o.vocab_size));
  }
  std::filesystem::rename(prefix + ".model", o.output, ignored);
  if (ignored) {
    std::filesystem::remove(prefix + ".model", ignored);
    std::filesystem::remove(prefix + ".vocab", ignored);
    throw InputError(o.output + ": cannot write the tokenizer there");
  }
  std::filesystem::rename(prefix + ".vocab", base + ".vocab", ignored);
}

}  // namespace infini
