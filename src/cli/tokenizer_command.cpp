// `infini tokenizer train`: a SentencePiece model trained on text files.
#include <filesystem>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/errors.h"
#include "data/tokenizer.h"

namespace infini::cli {

void add_tokenizer_command(CLI::App& app) {
  auto* tokenizer = app.add_subcommand("tokenizer", "Train SentencePiece tokenizers");
  tokenizer->require_subcommand(1);
  auto options = std::make_shared<TokenizerTrainOptions>();
  auto* train = tokenizer->add_subcommand("train", "Train a SentencePiece model (BPE or unigram, byte fallback)");
  train->add_option("--input", options->inputs, "Text files, directories of .txt files, or .jsonl files")->required();
  train->add_option("--vocab-size", options->vocab_size, "Vocabulary size")->required()->check(whole_number(16, 1 << 20));
  train->add_option("--out", options->output, "Output FILE.model")->required();
  train->add_option("--model-type", options->model_type, "bpe or unigram")->capture_default_str();
  train->add_option("--input-sentence-size", options->input_sentence_size, "Sentences sampled for training")
      ->capture_default_str()
      ->check(whole_number(1, kMaxCount));
  train->add_option("--threads", options->threads, "Threads (0: one per core)")->check(whole_number(0, kMaxThreads));
  train->callback([options] {
    train_tokenizer(*options);
    spdlog::info("wrote {}", options->output);
  });
}

}  // namespace infini::cli
