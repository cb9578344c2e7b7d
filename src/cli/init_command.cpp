// `infini init`: a run's starting checkpoint (train/initial_model.h) from a run config and a tokenizer.
#include <filesystem>

#include "cli/commands.h"
#include "config/run_config.h"
#include "core/errors.h"
#include "core/files.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "train/initial_model.h"

namespace infini::cli {

namespace {

struct InitFlags {
  std::string config;
  std::vector<std::string> overrides;
  std::string tokenizer;
  std::string out;
  bool force = false;
};

void run_init(const InitFlags& flags) {
  RunConfig config = load_run_config(flags.config, flags.overrides);
  if (std::filesystem::exists(flags.out) && !flags.force) {
    throw InputError(flags.out + ": already exists (pass --force to replace it)");
  }
  if (!flags.tokenizer.empty()) config.data.tokenizer = flags.tokenizer;
  complete_from_init(config, flags.config);
  const std::string tokenizer_file = config.data.tokenizer;
  if (tokenizer_file.empty()) throw InputError(flags.config + ": data.tokenizer: needed (or pass --tokenizer)");
  bind_tokenizer(config.model, Tokenizer(tokenizer_file), flags.config);
  Decoder decoder = initial_model(config);
  StagedDirectory writer(flags.out);
  stage_model(writer, decoder, tokenizer_file);
  writer.write_text("run_config.yaml", resolved_yaml(config));
  writer.commit();
  spdlog::info("wrote {} ({} parameters)", flags.out, decoder->parameter_count());
}

}  // namespace

void add_init_command(CLI::App& app) {
  auto flags = std::make_shared<InitFlags>();
  auto* init = app.add_subcommand("init", "Write a freshly initialised checkpoint from a run config");
  init->add_option("--config", flags->config, "Run config (YAML)")->required();
  init->add_option("--set", flags->overrides, "Override a config key: key.path=value");
  init->add_option("--tokenizer", flags->tokenizer, "SentencePiece model (default: data.tokenizer)");
  init->add_option("--out", flags->out, "Checkpoint directory to create")->required();
  init->add_flag("--force", flags->force, "Replace an existing directory at --out");
  init->callback([flags] { run_init(*flags); });
}

}  // namespace infini::cli
