// The SentencePiece plugin (see backend.h for why it is a separate shared object).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "data/sentencepiece/backend.h"

namespace {

class Backend final : public infini::SentencePieceBackend {
 public:
  std::string load(const std::string& model_path) override { return text(processor_.Load(model_path)); }
  std::string encode(const std::string& input, std::vector<int>* ids) const override {
    return text(processor_.Encode(input, ids));
  }
  std::string decode(const std::vector<int>& ids, std::string* output) const override {
    return text(processor_.Decode(ids, output));
  }
  std::string train(const std::unordered_map<std::string, std::string>& arguments) override {
    return text(sentencepiece::SentencePieceTrainer::Train(arguments));
  }
  int piece_size() const override { return processor_.GetPieceSize(); }
  int bos_id() const override { return processor_.bos_id(); }
  int eos_id() const override { return processor_.eos_id(); }
  int pad_id() const override { return processor_.pad_id(); }
  int unk_id() const override { return processor_.unk_id(); }

 private:
  static std::string text(const sentencepiece::util::Status& status) {
    return status.ok() ? std::string() : status.ToString();
  }
  sentencepiece::SentencePieceProcessor processor_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) infini::SentencePieceBackend* infini_sentencepiece_create() {
  return new Backend();
}
