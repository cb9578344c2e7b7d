// Entry point of the `infini` binary: parse, dispatch, and turn errors into exit statuses
// (0 success, 2 bad usage or input, 1 anything else).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include "cli/commands.h"
#include "core/cpu_allocator.h"
#include "core/cpu_share.h"
#include "core/errors.h"
#include "core/invocation.h"
#include "core/progress.h"
#include "core/system.h"

namespace {

// Two libraries read their settings from the environment when they are loaded, before main, so
// this program re-runs itself once with them set:
// - OpenBLAS picks its kernels from OPENBLAS_CORETYPE. In VMs it often detects a generic core and
//   runs ~7x slower; then the right core is named. INFINI_KEEP_BLAS_CORE=1 turns this off.
// - libgomp spins a waiting thread for about 300,000 iterations before it sleeps. Beside another
//   busy process those spinning threads hold the cores the working ones need: on 2 cores,
//   training beside a 2-thread matmul loop fell to 11% of its speed alone. GOMP_SPINCOUNT=1000
//   kept about 60% beside the loop, but once the elementwise ops became one-pass loops, a
//   bfloat16 step's parallel regions are short enough that waking the sleeping thread shows:
//   5-12% slower than spinning (2026-12-02). 20,000 spins kept most of that in one run.
//   Where other processes already keep a core busy (measured over 0.1 s here), threads wait
//   passively instead and all of them stay: beside a busy 2-thread process that kept 0.50-0.52
//   of the speed alone where 1 spinning thread kept 0.36-0.39; alone it would cost 0-14%
//   (bench/compare_wait_policy.sh, 2026-12-02), hence only then. A training run that finds the
//   machine busy later restarts itself waiting passively (INFINI_CHOSE_SPINCOUNT marks the spin
//   count as chosen here: core/cpu_share.h). Only the commands that compute for long pay the
//   second start (0.8 s); a wait policy the user set is kept.
void reexec_with_runtime_environment(int argc, char** argv) {
  bool changed = false;
  if (!std::getenv("INFINI_KEEP_BLAS_CORE")) {
    const std::string core = infini::suggested_openblas_coretype(infini::cpu_features(), infini::blas_info());
    if (!core.empty()) {
      ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
      ::setenv("INFINI_KEEP_BLAS_CORE", "1", 1);
      changed = true;
    }
  }
  const std::string command = argc > 1 ? argv[1] : "";
  const bool computes = command == "train" || command == "eval" || command == "generate";
  if (computes && !std::getenv("GOMP_SPINCOUNT") && !std::getenv("OMP_WAIT_POLICY")) {
    const double busy = infini::others_busy_over(std::chrono::milliseconds(100));
    if (busy >= infini::kBusyCores) {
      ::setenv("OMP_WAIT_POLICY", "passive", 1);
      ::setenv("INFINI_BUSY_AT_START", fmt::format("{:.1f}", busy).c_str(), 1);
    } else {
      ::setenv("GOMP_SPINCOUNT", "20000", 1);
      ::setenv("INFINI_CHOSE_SPINCOUNT", "1", 1);  // core/cpu_share.h: a later restart may wait passively
    }
    changed = true;
  }
  if (changed) ::execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are
}

// Every log line first clears the live progress bar, so no line lands glued to a stale bar.
class BarClearingSink : public spdlog::sinks::ansicolor_stderr_sink_mt {
 public:
  void log(const spdlog::details::log_msg& message) override {
    infini::ProgressBar::clear_active();
    spdlog::sinks::ansicolor_stderr_sink_mt::log(message);
  }
};

}  // namespace

int main(int argc, char** argv) {
  reexec_with_runtime_environment(argc, argv);
  infini::use_caching_cpu_allocator();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("infini", std::make_shared<BarClearingSink>()));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  if (const char* busy = std::getenv("INFINI_BUSY_AT_START")) {
    spdlog::info("other processes kept {} cores busy at start: threads wait passively (OMP_WAIT_POLICY=passive)", busy);
    ::unsetenv("INFINI_BUSY_AT_START");
  }

  CLI::App app{"infini: long-context language models with Infini-attention, on LibTorch", "infini"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  const std::string program = std::string("infini ") + INFINI_VERSION + " (LibTorch " + TORCH_VERSION + ")";
  infini::record_invocation(argc, argv, program);
  app.set_version_flag("--version", program);
  infini::cli::add_convert_command(app);
  infini::cli::add_data_command(app);
  infini::cli::add_doctor_command(app);
  infini::cli::add_eval_command(app);
  infini::cli::add_generate_command(app);
  infini::cli::add_init_command(app);
  infini::cli::add_launch_command(app);
  infini::cli::add_report_command(app);
  infini::cli::add_tokenizer_command(app);
  infini::cli::add_train_command(app);

  try {
    if (const int status = infini::cli::check_command_words(app, argc, argv); status >= 0) return status;
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "infini: " << e.what() << "\n";
    return 2;
  } catch (const infini::cli::ExitStatus& e) {
    return e.code;
  } catch (const infini::InputError& e) {
    std::cerr << "infini: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "infini: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
