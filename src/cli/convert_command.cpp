// `infini convert`: a checkpoint's weights under another attention config (continual
// pre-training's first step), or exported as a plain Hugging Face Llama directory.
#include <filesystem>

#include "cli/checks.h"
#include "cli/commands.h"
#include "config/run_config.h"
#include "core/errors.h"
#include "model/checkpoint.h"
#include "model/convert.h"

namespace infini::cli {

namespace {

struct ConvertFlags {
  std::string from;
  std::string to;
  std::vector<std::string> overrides;
  double gate_init = kConvertedGateInit;
  bool to_hf = false;
  bool force = false;
};

void run_convert(const ConvertFlags& flags) {
  if (std::filesystem::exists(flags.to) && !flags.force) {
    throw InputError(flags.to + ": already exists (pass --force to replace it)");
  }
  if (flags.to_hf && !flags.overrides.empty()) throw InputError("--to-hf exports the model as it is; drop --set");
  const std::string tokenizer = tokenizer_path(flags.from);  // the cheap checks first
  Decoder source = load_model(flags.from);
  if (flags.to_hf) {
    save_hf_model(flags.to, source, tokenizer);
    spdlog::info("wrote {} (Hugging Face Llama)", flags.to);
    return;
  }
  const ModelConfig target = override_model_config(source->config(), flags.overrides, flags.from + "/config.json");
  Decoder converted = convert_weights(source, target, flags.gate_init);
  save_model(flags.to, converted, tokenizer);
  spdlog::info("wrote {} ({} attention, segments of {})", flags.to, attention_kind_name(target.attention.kind),
               target.attention.segment_length);
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto flags = std::make_shared<ConvertFlags>();
  auto* convert = app.add_subcommand("convert", "Convert a checkpoint to another attention config, or export it to HF");
  convert->add_option("--from", flags->from, "Checkpoint directory (ours or a Hugging Face Llama)")->required();
  convert->add_option("--to", flags->to, "Checkpoint directory to write")->required();
  convert->add_option("--set", flags->overrides, "Change a model key: model.key.path=value");
  convert->add_option("--gate-init", flags->gate_init,
                      "β of the gates the conversion creates (sigmoid(-4) = 0.018: the model starts within 2% of its "
                      "source, and the gates can still learn)")
      ->check(real_number(-1e4, 1e4))
      ->capture_default_str();
  convert->add_flag("--to-hf", flags->to_hf, "Write a plain Hugging Face Llama directory (every layer must be full)");
  convert->add_flag("--force", flags->force, "Replace an existing directory at --to");
  convert->callback([flags] { run_convert(*flags); });
}

}  // namespace infini::cli
