// The command words of argv, checked before CLI11 parses (see commands.h).
#include <iostream>

#include "cli/commands.h"

namespace infini::cli {

int check_command_words(CLI::App& app, int argc, char** argv) {
  CLI::App* level = &app;
  std::string path = "infini";
  for (int i = 1;; ++i) {
    const auto subcommands = level->get_subcommands({});
    if (subcommands.empty()) return -1;
    if (i >= argc) {
      std::cout << level->help();
      return 0;
    }
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return -1;
    CLI::App* next = nullptr;
    std::string known;
    for (auto* command : subcommands) {
      known += (known.empty() ? "" : ", ") + command->get_name();
      if (command->get_name() == word) next = command;
    }
    if (next == nullptr) {
      std::cerr << path << ": unknown command '" << word << "' (expected one of " << known << ")\n";
      return 2;
    }
    level = next;
    path += " " + word;
  }
}

}  // namespace infini::cli
