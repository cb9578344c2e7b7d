// `infini eval ppl`: perplexity of a checkpoint over documents, as SPEC section 5 JSON.
#include <iostream>

#include "cli/commands.h"
#include "cli/runtime_flags.h"
#include "core/files.h"
#include "eval/perplexity.h"
#include "model/checkpoint.h"

namespace infini::cli {

namespace {

struct PplFlags {
  std::string checkpoint;
  std::string data;
  std::string out;
  std::string dtype = "float32";
  int64_t segment_length = 0;
  int64_t bucket_width = 2048;
  int64_t max_tokens_per_doc = 0;
  int64_t max_documents = 0;
  bool no_memory = false;
  RuntimeFlags runtime;
};

void run_ppl(const PplFlags& flags) {
  PerplexityOptions options;
  options.device = flags.runtime.apply();
  options.dtype = parse_dtype(flags.dtype);
  options.segment_length = flags.segment_length;
  options.bucket_width = flags.bucket_width;
  options.memory = !flags.no_memory;
  options.max_tokens_per_document = flags.max_tokens_per_doc;
  options.max_documents = flags.max_documents;

  auto corpus = open_corpus(flags.data, tokenizer_path(flags.checkpoint));  // the cheap checks first
  Decoder decoder = load_model(flags.checkpoint, options.device);
  decoder->to(options.dtype);
  decoder->eval();

  auto result = evaluate_perplexity(decoder, *corpus, options);
  result.checkpoint = flags.checkpoint;
  const auto json = result.to_json();
  const auto& total = json["total"];
  spdlog::info("{} documents, {} tokens: ppl {:.4f}, {:.4f} bits/byte (memory {})", total["documents"].get<int64_t>(),
               total["tokens"].get<int64_t>(), total["ppl"].get<double>(), total["bits_per_byte"].get<double>(),
               options.memory ? "carried" : "reset every segment");
  if (flags.out.empty()) {
    std::cout << json.dump(2) << "\n";
  } else {
    write_file_atomic(flags.out, json.dump(2) + "\n");
    spdlog::info("wrote {}", flags.out);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* eval = app.add_subcommand("eval", "Evaluate checkpoints");
  eval->require_subcommand(1);
  auto flags = std::make_shared<PplFlags>();
  auto* ppl = eval->add_subcommand("ppl", "Perplexity over whole documents, memory carried across segments");
  ppl->add_option("--checkpoint", flags->checkpoint, "Checkpoint directory")->required();
  ppl->add_option("--data", flags->data, "A .txt file, a directory of .txt files, a .jsonl file, or a shard directory")->required();
  ppl->add_option("--segment-length", flags->segment_length, "Tokens per segment (default: the model's)")
      ->check(CLI::NonNegativeNumber);
  ppl->add_flag("--no-memory", flags->no_memory, "Reset every layer's memory at each segment");
  ppl->add_option("--out", flags->out, "Write the JSON here instead of standard output");
  ppl->add_option("--dtype", flags->dtype, "float32 or bfloat16 compute (memory stays float32)")
      ->capture_default_str();
  ppl->add_option("--max-tokens-per-doc", flags->max_tokens_per_doc,
                  "Score only the first N predicted tokens of each document (0: all)")
      ->check(CLI::NonNegativeNumber);
  ppl->add_option("--max-documents", flags->max_documents, "Score only the first N documents (0: all)")
      ->check(CLI::NonNegativeNumber);
  ppl->add_option("--bucket-width", flags->bucket_width, "Tokens per by_position bucket")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  flags->runtime.add_to(ppl);
  ppl->callback([flags] { run_ppl(*flags); });
}

}  // namespace infini::cli
