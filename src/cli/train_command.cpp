// `infini train`: trains from a YAML run config (see train/trainer.h for the loop).
#include <cerrno>
#include <cstring>
#include <iostream>
#include <unistd.h>

#include "cli/checks.h"
#include "cli/commands.h"
#include "cli/compute_dtype.h"
#include "config/key_docs.h"
#include "config/run_config.h"
#include "core/cpu_share.h"
#include "core/runtime.h"
#include "distributed/c10d_communicator.h"
#include "train/initial_model.h"
#include "train/stop_signal.h"
#include "train/trainer.h"
#include "core/progress.h"

namespace infini::cli {

namespace {

struct TrainFlags {
  std::string config;
  std::vector<std::string> overrides;
  std::string resume;
  int64_t stop_at_step = 0;
  std::string progress = "auto";
  std::string backend = "auto";
  bool force = false;
  bool print_config = false;
  int64_t threads = -1;  // -1: run.threads
};

// The command line that continues this run from `checkpoint`: its config, overrides and options,
// without --force (what it continues is the run just written).
std::vector<std::string> continuing_command(const TrainFlags& flags, const std::string& checkpoint) {
  std::vector<std::string> args{"infini", "train", "--config", flags.config};
  for (const auto& o : flags.overrides) args.insert(args.end(), {"--set", o});
  if (flags.stop_at_step > 0) args.insert(args.end(), {"--stop-at-step", std::to_string(flags.stop_at_step)});
  if (flags.threads >= 0) args.insert(args.end(), {"--threads", std::to_string(flags.threads)});
  if (flags.progress != "auto") args.insert(args.end(), {"--progress", flags.progress});
  args.insert(args.end(), {"--resume", checkpoint});
  return args;
}

// Runs `args` in place of this process with threads that wait passively (core/cpu_share.h);
// returns only if that fails.
void restart_waiting_passively(const std::vector<std::string>& args) {
  wait_passively_from_next_start();
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  spdlog::default_logger()->flush();
  ::execv("/proc/self/exe", argv.data());
  throw std::runtime_error(std::string("could not restart with passive waits: ") + std::strerror(errno));
}

void run_train(const TrainFlags& flags) {
  RunConfig config = load_run_config(flags.config, flags.overrides);
  if (flags.print_config) {  // what the run would use, every default filled in; nothing is trained
    complete_from_init(config, flags.config);
    std::cout << documented_yaml(config);
    return;
  }
  if (flags.threads >= 0) config.run.threads = flags.threads;
  set_threads(static_cast<int>(config.run.threads));  // the count the trainer will use, for compute_dtype's rates
  config.run.dtype = compute_dtype(config.run.dtype, config.run.device);
  TrainerOptions options;
  options.config_origin = flags.config;
  options.resume = flags.resume;
  options.stop_at_step = flags.stop_at_step;
  options.replace_run = flags.force;
  options.progress_bar = ProgressBar::wanted(flags.progress);
  std::shared_ptr<Communicator> communicator = std::make_shared<SingleProcess>();
  bool single_process = true;
  // One rank trains alone unless a backend is named: then it joins a process group of one (how
  // the data-parallel path is checked on a single GPU).
  if (const auto rendezvous = rendezvous_from_environment();
      rendezvous && (rendezvous->world_size > 1 || flags.backend != "auto")) {
    if (rendezvous->rank > 0) spdlog::set_level(spdlog::level::warn);  // rank 0 speaks for the job
    communicator = connect(*rendezvous, flags.backend, config.run.device);
    single_process = false;
  }
  // A process alone that spins because `infini` chose so restarts waiting passively once other
  // processes get busy: beside a busy 2-thread process on 2 cores that keeps 0.50-0.52 of the
  // speed alone, where dropping to 1 spinning thread kept 0.36-0.39 (bench/compare_wait_policy.sh).
  options.stop_to_wait_passively = single_process && spin_count_chosen_at_start();
  TrainResult result;
  {
    StopSignal stop;
    Trainer trainer(std::move(config), options, communicator);  // its logs are closed before a restart
    result = trainer.run(&stop);
  }
  if (communicator->rank() > 0) return;
  if (result.finished) {
    spdlog::info("finished at step {}; checkpoint {}", result.step, result.checkpoint);
    return;
  }
  const auto again = continuing_command(flags, result.checkpoint);
  if (result.to_wait_passively) {
    spdlog::info("restarting from {} with OMP_WAIT_POLICY=passive", result.checkpoint);
    restart_waiting_passively(again);
  }
  spdlog::info("stopped at step {}; checkpoint {}; resume with: {}", result.step, result.checkpoint,
               fmt::format("{}", fmt::join(again, " ")));
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  auto* train = app.add_subcommand("train", "Train a model from a YAML run config");
  train->add_option("--config", flags->config, "Run config (YAML)")->required();
  train->add_option("--set", flags->overrides, "Override a config key: key.path=value");
  train->add_option("--resume", flags->resume, "Continue from this training checkpoint (or 'auto': the newest in run.dir)");
  train->add_option("--stop-at-step", flags->stop_at_step,
                    "Stop after this step with a checkpoint, as a signal would (for time-limited jobs)")
      ->check(whole_number(1, kMaxCount));
  train->add_option("--threads", flags->threads, "CPU threads, instead of run.threads (0: one per core)")
      ->check(whole_number(0, kMaxThreads));
  train->add_flag("--print-config", flags->print_config,
                  "Print the resolved config (every default filled in, --set applied) with each key's meaning and default, and exit");
  train->add_flag("--force", flags->force,
                  "Start fresh even where run.dir holds another run: its checkpoints, links and logs are deleted first");
  train->add_option("--progress", flags->progress, "Live progress bar: auto (on a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  train->add_option("--dist-backend", flags->backend,
                    "With RANK/WORLD_SIZE set: auto (gloo on CPU, nccl on CUDA), gloo or nccl; naming one joins a process group even with one rank")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  train->callback([flags] { run_train(*flags); });
}

}  // namespace infini::cli
