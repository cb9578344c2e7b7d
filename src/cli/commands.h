// The `infini` subcommands. Each file registers one command family on the CLI11 app; the
// callbacks parse and dispatch into the library and hold no training or evaluation logic.
#pragma once

#include <CLI/CLI.hpp>

namespace infini::cli {

// Thrown by a command that has already said what went wrong and only sets the exit status.
struct ExitStatus {
  int code;
};

void add_convert_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_doctor_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_eval_passkey_command(CLI::App& eval);  // under `eval`
void add_generate_command(CLI::App& app);
void add_init_command(CLI::App& app);
void add_launch_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_tokenizer_command(CLI::App& app);
void add_train_command(CLI::App& app);

}  // namespace infini::cli
