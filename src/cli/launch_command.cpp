// `infini launch`: N local ranks of a command with torchrun's environment (distributed/launcher.h).
#include "cli/checks.h"
#include "cli/commands.h"
#include "distributed/launcher.h"

namespace infini::cli {

void add_launch_command(CLI::App& app) {
  auto options = std::make_shared<LaunchOptions>();
  auto command = std::make_shared<std::vector<std::string>>();
  auto* launch = app.add_subcommand("launch", "Run a command as N local data-parallel ranks: launch --nproc N -- CMD...");
  launch->add_option("--nproc", options->nproc, "Processes (ranks) to start")->required()->check(whole_number(1, 1024));
  launch->add_option("--master-addr", options->master_addr, "Rendezvous address")->capture_default_str();
  launch->add_option("--master-port", options->master_port, "Rendezvous port")
      ->capture_default_str()
      ->check(whole_number(1, 65535));
  launch->add_option("command", *command, "The command each rank runs (after --)")->required();
  launch->callback([options, command] {
    const int status = launch_local(*options, *command);
    if (status != 0) throw ExitStatus{status};
  });
}

}  // namespace infini::cli
