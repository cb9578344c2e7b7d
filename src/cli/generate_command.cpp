// `infini generate`: continues a prompt with a checkpoint, memory carried over the whole prompt.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "cli/runtime_flags.h"
#include "core/errors.h"
#include "data/tokenizer.h"
#include "eval/generate.h"
#include "model/checkpoint.h"

namespace infini::cli {

namespace {

constexpr int64_t kMaxNewTokens = int64_t{1} << 24;

struct GenerateFlags {
  std::string checkpoint;
  std::string prompt;
  std::string prompt_file;
  GenerateOptions options;
  RuntimeFlags runtime;
};

void run_generate(const GenerateFlags& flags) {
  if (flags.prompt.empty() == flags.prompt_file.empty()) throw InputError("give one of --prompt and --prompt-file");
  std::string text = flags.prompt;
  if (!flags.prompt_file.empty()) {
    std::ifstream in(flags.prompt_file, std::ios::binary);
    if (!in) throw InputError(flags.prompt_file + ": cannot read the prompt file");
    std::stringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  const auto device = flags.runtime.apply();
  Tokenizer tokenizer(tokenizer_path(flags.checkpoint));
  require_tokenizer_fits(tokenizer.vocab_size(), read_model_config(flags.checkpoint).vocab_size, flags.checkpoint);
  Decoder decoder = load_model(flags.checkpoint, device);
  decoder->eval();
  std::vector<int64_t> prompt{tokenizer.bos_id()};
  for (auto id : tokenizer.encode(text)) prompt.push_back(id);
  GenerateOptions options = flags.options;
  options.stop_token = tokenizer.eos_id();

  // Stream the text as it grows: decode everything so far and print what is new.
  std::vector<int64_t> produced;
  size_t printed = 0;
  generate(decoder, prompt, options, [&](int64_t token) {
    if (token == options.stop_token) return;
    produced.push_back(token);
    const auto so_far = tokenizer.decode(produced);
    if (so_far.size() > printed) {
      std::cout << so_far.substr(printed) << std::flush;
      printed = so_far.size();
    }
  });
  std::cout << std::endl;
  spdlog::info("{} prompt tokens, {} new", prompt.size(), produced.size());
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  auto* command = app.add_subcommand("generate", "Continue a prompt (memory carried over prompts of any length)");
  command->add_option("--checkpoint", flags->checkpoint, "Checkpoint directory")->required();
  command->add_option("--prompt", flags->prompt, "The prompt text");
  command->add_option("--prompt-file", flags->prompt_file, "A file holding the prompt");
  command->add_option("--max-new-tokens", flags->options.max_new_tokens, "Tokens to generate")
      ->capture_default_str()
      ->check(whole_number(0, kMaxNewTokens));
  command->add_option("--temperature", flags->options.temperature, "0: greedy")->capture_default_str()
      ->check(real_number(0.0, 100.0));
  command->add_option("--top-p", flags->options.top_p, "Nucleus sampling mass")->capture_default_str()
      ->check(real_number(0.0, 1.0, true));
  command->add_option("--seed", flags->options.seed, "Sampling seed")->capture_default_str();
  flags->runtime.add_to(command);
  command->callback([flags] { run_generate(*flags); });
}

}  // namespace infini::cli
