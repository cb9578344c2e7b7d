// The `infini` subcommands. Each file registers one command family on the CLI11 app; the
// callbacks parse and dispatch into the library and hold no training or evaluation logic.
#pragma once

#include <CLI/CLI.hpp>

namespace infini::cli {

// Thrown by a command that has already said what went wrong and only sets the exit status.
struct ExitStatus {
  int code;
};

// Walks the command words of argv down the tree of subcommands. An unknown word is refused with
// the valid ones listed (exit 2); a command that needs a subcommand and got nothing more prints
// its help (exit 0). Returns -1 when CLI11 should parse as usual.
int check_command_words(CLI::App& app, int argc, char** argv);

void add_convert_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_eval_gates_command(CLI::App& eval);    // under `eval`
void add_eval_passkey_command(CLI::App& eval);  // under `eval`
void add_generate_command(CLI::App& app);
void add_init_command(CLI::App& app);
void add_launch_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_tokenizer_command(CLI::App& app);
void add_train_command(CLI::App& app);

}  // namespace infini::cli
