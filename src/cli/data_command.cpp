// `infini data prepare`: tokenise documents into memory-mapped token shards.
#include "cli/checks.h"
#include "cli/commands.h"
#include "data/prepare.h"

namespace infini::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Prepare corpora");
  data->require_subcommand(1);
  auto options = std::make_shared<PrepareOptions>();
  auto* prepare = data->add_subcommand("prepare", "Tokenise documents into binary shards (uint16/uint32) with an index");
  prepare->add_option("--tokenizer", options->tokenizer, "SentencePiece model")->required();
  prepare->add_option("--input", options->input, "A text file, a directory of .txt files, or a .jsonl file")->required();
  prepare->add_option("--out", options->out, "Shard directory")->required();
  prepare->add_option("--threads", options->threads, "Tokenising threads (0: one per core)")
      ->check(whole_number(0, kMaxThreads));
  prepare->add_option("--shard-tokens", options->shard_tokens, "Tokens per shard file")
      ->capture_default_str()
      ->check(whole_number(1, kMaxCount));
  prepare->add_option("--dtype", options->token_dtype, "auto, uint16 or uint32")->capture_default_str();
  prepare->add_flag("--force", options->force, "Rebuild the output even if it holds other or up-to-date shards");
  prepare->callback([options] {
    auto report = prepare_shards(*options);
    if (report.up_to_date) {
      spdlog::info("{} is up to date: {} documents, {} tokens", options->out, report.documents, report.tokens);
      return;
    }
    spdlog::info("{}: {} documents, {} tokens, {} bytes ({:.2f} tokens/byte), {} skipped; {:.1f} s, {:.0f} tokens/s",
                 options->out, report.documents, report.tokens, report.bytes,
                 report.bytes ? static_cast<double>(report.tokens) / static_cast<double>(report.bytes) : 0.0,
                 report.skipped, report.seconds, report.tokens / std::max(report.seconds, 1e-9));
  });
}

}  // namespace infini::cli
