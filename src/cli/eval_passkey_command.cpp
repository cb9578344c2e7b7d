// `infini eval passkey`: passkey retrieval accuracy per length and depth (eval/passkey_eval.h).
#include <filesystem>
#include <iostream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/runtime_flags.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/progress.h"
#include "eval/passkey_eval.h"
#include "model/checkpoint.h"

namespace infini::cli {

namespace {

struct PasskeyFlags {
  std::string checkpoint;
  std::vector<std::string> lengths;
  std::vector<std::string> depths = {"start", "middle", "end"};
  std::string out;
  std::string dtype = "float32";
  std::string progress = "auto";
  std::string layout = "memory";
  bool no_memory = false;
  int64_t keys = 5;
  uint64_t seed = 0;
  RuntimeFlags runtime;
};

// "4096", "32K" (32·1024) or "1M" (1,048,576).
int64_t parse_length(const std::string& text) {
  int64_t scale = 1;
  std::string digits = text;
  if (!digits.empty() && (digits.back() == 'K' || digits.back() == 'k')) scale = 1024;
  if (!digits.empty() && (digits.back() == 'M' || digits.back() == 'm')) scale = 1024 * 1024;
  if (scale > 1) digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 12) {
    throw InputError("--lengths '" + text + "': expected a token count such as 4096, 32K or 1M");
  }
  const int64_t value = std::stoll(digits) * scale;
  if (value <= 0) throw InputError("--lengths '" + text + "': must be positive");
  return value;
}

void run_passkey(const PasskeyFlags& flags) {
  require_output_file(flags.out);
  PasskeyOptions options;
  for (const auto& length : flags.lengths) options.lengths.push_back(parse_length(length));
  options.depths.clear();
  for (const auto& depth : flags.depths) options.depths.push_back(parse_depth(depth));
  options.keys = flags.keys;
  options.seed = flags.seed;
  options.progress_bar = flags.progress == "on" || (flags.progress == "auto" && ProgressBar::on_terminal());
  const auto dtype = parse_dtype(flags.dtype);
  if (!flags.out.empty() && std::filesystem::is_directory(flags.out)) throw InputError(flags.out + ": is a directory");

  const auto device = flags.runtime.apply();
  options.memory = !flags.no_memory;
  Tokenizer tokenizer(tokenizer_path(flags.checkpoint));
  require_tokenizer_fits(tokenizer.vocab_size(), read_model_config(flags.checkpoint).vocab_size, flags.checkpoint);
  if (flags.layout == "memory") options.segment_length = read_model_config(flags.checkpoint).attention.segment_length;
  check_passkey_lengths(PasskeyTask(tokenizer), options);  // before any model is loaded
  Decoder decoder = load_model(flags.checkpoint, device);
  decoder->to(dtype);
  decoder->eval();
  auto result = evaluate_passkey(decoder, tokenizer, options);
  result.checkpoint = flags.checkpoint;
  const auto json = result.to_json();
  for (const auto& cell : json["accuracy"]) {
    spdlog::info("length {:>8} depth {:.2f}: token accuracy {:.1f}%, exact {:.1f}%", cell["length"].get<int64_t>(),
                 cell["depth"].get<double>(), 100.0 * cell["accuracy"].get<double>(), 100.0 * cell["exact"].get<double>());
  }
  emit_json(json, flags.out);
}

}  // namespace

void add_eval_passkey_command(CLI::App& eval) {
  auto flags = std::make_shared<PasskeyFlags>();
  auto* passkey = eval.add_subcommand("passkey", "Passkey retrieval (the paper's Appendix B) per length and depth");
  passkey->add_option("--checkpoint", flags->checkpoint, "Checkpoint directory")->required();
  passkey->add_option("--lengths", flags->lengths, "Prompt lengths in tokens, e.g. 1K,32K,1M")
      ->required()
      ->delimiter(',');
  passkey->add_option("--depths", flags->depths, "Where the key sits: start, middle, end or numbers in [0, 1]")
      ->delimiter(',')
      ->capture_default_str();
  passkey->add_option("--keys", flags->keys, "Random keys per length and depth")
      ->check(whole_number(1, 1000000))
      ->capture_default_str();
  passkey->add_option("--seed", flags->seed, "Seed of the keys")->capture_default_str();
  passkey->add_option("--layout", flags->layout,
                      "memory: a whole segment between key and question (depth end is the last such place); "
                      "table3: the paper's, depth end puts the key beside the question")
      ->check(CLI::IsMember({"memory", "table3"}))
      ->capture_default_str();
  passkey->add_flag("--no-memory", flags->no_memory, "Reset memory at every segment (the ablation)");
  passkey->add_option("--dtype", flags->dtype, "float32 or bfloat16 compute (memory stays float32)")
      ->capture_default_str();
  passkey->add_option("--progress", flags->progress, "Live progress bar: auto (on a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  passkey->add_option("--out", flags->out, "Write the JSON here instead of standard output");
  flags->runtime.add_to(passkey);
  passkey->callback([flags] { run_passkey(*flags); });
}

}  // namespace infini::cli
