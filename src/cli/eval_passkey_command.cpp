// `infini eval passkey`: passkey retrieval accuracy per length and depth (eval/passkey_eval.h).
#include "cli/checks.h"
#include "cli/commands.h"
#include "cli/compute_dtype.h"
#include "cli/output.h"
#include "cli/runtime_flags.h"
#include "core/errors.h"
#include "core/number_format.h"
#include "core/progress.h"
#include "eval/passkey_eval.h"
#include "core/runtime.h"

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
  int64_t key_digits = PasskeyTask::kDefaultKeyDigits;
  uint64_t seed = 0;
  RuntimeFlags runtime;
};

void run_passkey(const PasskeyFlags& flags) {
  require_output_file(flags.out);
  PasskeyOptions options;
  for (const auto& length : flags.lengths) {
    options.lengths.push_back(length_from_text(length));
    if (options.lengths.back() <= 0) throw InputError("--lengths '" + length + "': expected a token count such as 4096, 32K or 1M");
  }
  options.depths.clear();
  for (const auto& depth : flags.depths) options.depths.push_back(parse_depth(depth));
  options.keys = flags.keys;
  options.key_digits = flags.key_digits;
  options.seed = flags.seed;
  options.progress_bar = ProgressBar::wanted(flags.progress);
  options.memory = !flags.no_memory;
  const auto device = flags.runtime.apply();
  const auto result = evaluate_passkey_checkpoint(flags.checkpoint, options, flags.layout == "memory", device,
                                                  compute_dtype(parse_dtype(flags.dtype), device));
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
  passkey->add_option("--key-digits", flags->key_digits, "Digits per key (the paper's 5; fewer for a model trained so)")
      ->check(whole_number(1, PasskeyTask::kMaxKeyDigits))
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
