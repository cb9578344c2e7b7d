// `infini eval`: `ppl`, the perplexity of checkpoints over documents as SPEC section 5 JSON, and
// `gates`, the gate map; registers `passkey` (eval_passkey_command.cpp).
#include <filesystem>
#include <map>

#include "cli/checks.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/runtime_flags.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/progress.h"
#include "core/system.h"
#include "data/tokenizer.h"
#include "eval/perplexity.h"
#include "model/checkpoint.h"

namespace infini::cli {

namespace {

struct PplFlags {
  std::vector<std::string> checkpoints;
  std::string data;
  std::string out;
  std::string dtype = "float32";
  std::string progress = "auto";
  int64_t segment_length = 0;
  int64_t bucket_width = 2048;
  int64_t max_tokens_per_doc = 0;
  int64_t max_documents = 0;
  bool no_memory = false;
  bool memory_ablation = false;
  RuntimeFlags runtime;
};

void run_ppl(const PplFlags& flags) {
  PerplexityOptions options;
  options.device = flags.runtime.apply();
  options.dtype = parse_dtype(flags.dtype);
  options.segment_length = flags.segment_length;
  options.bucket_width = flags.bucket_width;
  options.max_tokens_per_document = flags.max_tokens_per_doc;
  options.max_documents = flags.max_documents;
  options.progress_bar = flags.progress == "on" || (flags.progress == "auto" && ProgressBar::on_terminal());
  options.log_documents = !options.progress_bar;
  if (flags.no_memory && flags.memory_ablation) throw InputError("--no-memory and --memory-ablation: choose one");
  require_output_file(flags.out);

  // The cheap checks first: every checkpoint has a tokenizer and the documents open with it. The
  // documents are opened once per distinct tokenizer (each evaluation streams them again: nothing
  // is held between documents), so checkpoints that share a tokenizer see the same tokens.
  std::map<std::string, std::unique_ptr<Corpus>> corpora;  // by tokenizer fingerprint
  std::vector<std::string> fingerprints;
  for (const auto& checkpoint : flags.checkpoints) {
    const auto model = read_model_config(checkpoint);  // a bad config.json fails now, not after the others
    const auto tokenizer = tokenizer_path(checkpoint);
    const auto fingerprint = file_fingerprint(tokenizer);
    if (!corpora.count(fingerprint)) corpora[fingerprint] = open_corpus(flags.data, tokenizer);
    require_tokenizer_fits(corpora.at(fingerprint)->vocab_size(), model.vocab_size, checkpoint);
    fingerprints.push_back(fingerprint);
  }

  auto results = nlohmann::json::array();
  for (size_t c = 0; c < flags.checkpoints.size(); ++c) {
    const auto& checkpoint = flags.checkpoints[c];
    reset_peak_memory();  // each checkpoint's peaks: its loading and its evaluations
    Decoder decoder = load_model(checkpoint, options.device);
    decoder->to(options.dtype);
    decoder->eval();
    const bool has_memory = memory_state_elements(decoder->config()) > 0;
    std::vector<bool> memory_settings{!flags.no_memory};
    if (flags.memory_ablation && has_memory) memory_settings.push_back(false);
    for (const bool memory : memory_settings) {
      options.memory = memory;
      auto result = evaluate_perplexity(decoder, *corpora.at(fingerprints[c]), options);
      result.checkpoint = checkpoint;
      result.data = flags.data;
      const auto json = result.to_json();
      const auto& total = json["total"];
      spdlog::info("{}: {} documents, {} tokens: ppl {:.4f}, {:.4f} bits/byte (memory {}), {:.0f} tokens/s", checkpoint,
                   total["documents"].get<int64_t>(), total["tokens"].get<int64_t>(), total["ppl"].get<double>(),
                   total["bits_per_byte"].get<double>(), memory ? "carried" : "reset every segment",
                   json["timing"]["tokens_per_second"].get<double>());
      results.push_back(json);
    }
  }
  // One result is SPEC section 5's object; several are an array of them.
  const auto json = results.size() == 1 ? results[0] : results;
  emit_json(json, flags.out);
}

struct GatesFlags {
  std::string checkpoint;
  std::string out;
};

// Figure 3 as text: one line per layer, each head's sigmoid(β) and its class.
void run_gates(const GatesFlags& flags) {
  require_output_file(flags.out);
  Decoder decoder = load_model(flags.checkpoint);
  const auto gates = gate_statistics(decoder);
  if (gates.empty()) throw InputError(flags.checkpoint + ": the model has no infini layers, so no gates");
  for (const auto& layer : gates) {
    std::string heads;
    for (const double v : layer.values) {
      const auto kind = gate_class(v);
      heads += fmt::format(" {:.3f}{}", v, kind == "memory" ? "M" : kind == "local" ? "L" : "x");
    }
    spdlog::info("layer {:>2}: mean {:.3f}, {} memory / {} local / {} mixer heads (M/L/x):{}", layer.layer, layer.mean,
                 layer.memory_heads, layer.local_heads,
                 static_cast<int64_t>(layer.values.size()) - layer.memory_heads - layer.local_heads, heads);
  }
  const nlohmann::json json = {{"kind", "gates"},
                               {"checkpoint", flags.checkpoint},
                               {"model", model_config_to_json(decoder->config())},
                               {"gates", gates_to_json(gates)}};
  emit_json(json, flags.out);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* eval = app.add_subcommand("eval", "Evaluate checkpoints");
  eval->require_subcommand(1);
  auto flags = std::make_shared<PplFlags>();
  auto* ppl = eval->add_subcommand("ppl", "Perplexity over whole documents, memory carried across segments");
  ppl->add_option("--checkpoint", flags->checkpoints,
                  "Checkpoint directory; repeat it to score several on the same documents")
      ->required();
  ppl->add_option("--data", flags->data, "A .txt file, a directory of .txt files, a .jsonl file, or a shard directory")->required();
  ppl->add_option("--segment-length", flags->segment_length, "Tokens per segment (default: the model's)")
      ->check(whole_number(0, kMaxCount));
  ppl->add_flag("--no-memory", flags->no_memory, "Reset every layer's memory at each segment");
  ppl->add_flag("--memory-ablation", flags->memory_ablation,
                "Score each checkpoint with memory carried and again with it reset every segment");
  ppl->add_option("--progress", flags->progress, "Live progress bar: auto (on a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  ppl->add_option("--out", flags->out, "Write the JSON here instead of standard output");
  ppl->add_option("--dtype", flags->dtype, "float32 or bfloat16 compute (memory stays float32)")
      ->capture_default_str();
  ppl->add_option("--max-tokens-per-doc", flags->max_tokens_per_doc,
                  "Score only the first N predicted tokens of each document (0: all)")
      ->check(whole_number(0, kMaxCount));
  ppl->add_option("--max-documents", flags->max_documents, "Score only the first N documents (0: all)")
      ->check(whole_number(0, kMaxCount));
  ppl->add_option("--bucket-width", flags->bucket_width, "Tokens per by_position bucket")
      ->check(whole_number(1, kMaxCount))
      ->capture_default_str();
  flags->runtime.add_to(ppl);
  ppl->callback([flags] { run_ppl(*flags); });

  auto gates_flags = std::make_shared<GatesFlags>();
  auto* gates = eval->add_subcommand("gates", "Each head's gate sigmoid(β), classed memory (> 0.9), local (< 0.1) or mixer");
  gates->add_option("--checkpoint", gates_flags->checkpoint, "Checkpoint directory")->required();
  gates->add_option("--out", gates_flags->out, "Write the JSON here instead of standard output");
  gates->callback([gates_flags] { run_gates(*gates_flags); });

  add_eval_passkey_command(*eval);
}

}  // namespace infini::cli
