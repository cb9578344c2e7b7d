// `infini eval`: `ppl`, the perplexity of checkpoints over documents as SPEC section 5 JSON
// (eval/checkpoint_perplexity.h); registers `passkey` and `gates`.
#include "cli/checks.h"
#include "cli/commands.h"
#include "cli/compute_dtype.h"
#include "cli/output.h"
#include "cli/runtime_flags.h"
#include "core/errors.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "eval/checkpoint_perplexity.h"

namespace infini::cli {

namespace {

struct PplFlags {
  CheckpointPerplexityOptions options;
  std::string dtype = "float32";
  std::string progress = "auto";
  std::string out;
  bool no_memory = false;
  RuntimeFlags runtime;
};

void run_ppl(PplFlags flags) {
  auto& options = flags.options;
  if (flags.no_memory && options.memory_ablation) throw InputError("--no-memory and --memory-ablation: choose one");
  options.perplexity.device = flags.runtime.apply();
  options.perplexity.dtype = compute_dtype(parse_dtype(flags.dtype), options.perplexity.device);
  options.perplexity.memory = !flags.no_memory;
  options.perplexity.progress_bar = ProgressBar::wanted(flags.progress);
  options.perplexity.log_documents = !options.perplexity.progress_bar;
  require_output_file(flags.out);
  auto results = nlohmann::json::array();
  for (const auto& result : evaluate_checkpoints(options)) {
    const auto json = result.to_json();
    const auto& total = json["total"];
    spdlog::info("{}: {} documents, {} tokens: ppl {:.4f}, {:.4f} bits/byte (memory {}), {:.0f} tokens/s",
                 result.checkpoint, total["documents"].get<int64_t>(), total["tokens"].get<int64_t>(),
                 total["ppl"].get<double>(), total["bits_per_byte"].get<double>(),
                 result.options.memory ? "carried" : "reset every segment", json["timing"]["tokens_per_second"].get<double>());
    results.push_back(json);
  }
  // One result is SPEC section 5's object; several are an array of them.
  emit_json(results.size() == 1 ? results[0] : results, flags.out);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* eval = app.add_subcommand("eval", "Evaluate checkpoints");
  eval->require_subcommand(1);
  auto flags = std::make_shared<PplFlags>();
  auto& o = flags->options;
  auto* ppl = eval->add_subcommand("ppl", "Perplexity over whole documents, memory carried across segments");
  ppl->add_option("--checkpoint", o.checkpoints, "Checkpoint directory; repeat it to score several on the same documents")
      ->required();
  ppl->add_option("--data", o.data, "A text file, a directory of .txt files, a .jsonl file, or a shard directory")->required();
  ppl->add_option("--segment-length", o.perplexity.segment_length, "Tokens per segment (default: the model's)")
      ->check(whole_number(0, kMaxCount));
  ppl->add_flag("--no-memory", flags->no_memory, "Reset every layer's memory at each segment");
  ppl->add_flag("--memory-ablation", o.memory_ablation,
                "Score each checkpoint with memory carried and again with it reset every segment");
  ppl->add_option("--progress", flags->progress, "Live progress bar: auto (on a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  ppl->add_option("--dtype", flags->dtype, "float32 or bfloat16 compute (memory stays float32)")->capture_default_str();
  ppl->add_option("--max-tokens-per-doc", o.perplexity.max_tokens_per_document,
                  "Score only the first N predicted tokens of each document (0: all)")
      ->check(whole_number(0, kMaxCount));
  ppl->add_option("--max-documents", o.perplexity.max_documents, "Score only the first N documents (0: all)")
      ->check(whole_number(0, kMaxCount));
  ppl->add_option("--bucket-width", o.perplexity.bucket_width, "Tokens per by_position bucket")
      ->check(whole_number(1, kMaxCount))
      ->capture_default_str();
  ppl->add_option("--out", flags->out, "Write the JSON here instead of standard output");
  flags->runtime.add_to(ppl);
  ppl->callback([flags] { run_ppl(*flags); });

  add_eval_gates_command(*eval);
  add_eval_passkey_command(*eval);
}

}  // namespace infini::cli
