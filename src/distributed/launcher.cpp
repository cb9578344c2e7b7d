#include "distributed/launcher.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "core/errors.h"

namespace infini {

namespace {

std::atomic<int> forwarded{0};

void remember_signal(int sig) { forwarded = sig; }

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

int launch_local(const LaunchOptions& options, const std::vector<std::string>& command) {
  if (options.nproc < 1) throw InputError("--nproc: expected at least 1");
  if (command.empty()) throw InputError("launch: give the command after --");
  std::vector<pid_t> children(static_cast<size_t>(options.nproc), -1);
  for (int rank = 0; rank < options.nproc; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("launch: fork failed");
    if (pid == 0) {
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(options.nproc).c_str(), 1);
      setenv("MASTER_ADDR", options.master_addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(options.master_port).c_str(), 1);
      std::vector<char*> argv;
      for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      std::fprintf(stderr, "infini launch: cannot run %s\n", argv[0]);
      _exit(127);
    }
    children[static_cast<size_t>(rank)] = pid;
  }

  struct sigaction action {}, previous_int, previous_term;
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);

  int running = options.nproc, failed_rank = -1, failed_status = 0;
  auto signal_all = [&](int sig) {
    for (pid_t pid : children) {
      if (pid > 0) kill(pid, sig);
    }
  };
  std::chrono::steady_clock::time_point stop_deadline{};
  while (running > 0) {
    if (const int sig = forwarded.exchange(0)) signal_all(sig);  // the ranks handle it themselves
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t rank = 0; rank < children.size(); ++rank) {
        if (children[rank] != pid) continue;
        children[rank] = -1;
        --running;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && failed_rank < 0) {
          failed_rank = static_cast<int>(rank);
          failed_status = status;
          std::fprintf(stderr, "infini launch: rank %zu %s; stopping the other ranks\n", rank, describe(status).c_str());
          signal_all(SIGTERM);
          stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.grace_seconds);
        }
      }
      continue;
    }
    if (failed_rank >= 0 && std::chrono::steady_clock::now() > stop_deadline) signal_all(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
  if (failed_rank >= 0) {
    std::fprintf(stderr, "infini launch: the job failed (rank %d %s)\n", failed_rank, describe(failed_status).c_str());
    // Every rank reads the same command and config: bad input in the first to fail is the job's.
    return WIFEXITED(failed_status) && WEXITSTATUS(failed_status) == 2 ? 2 : 1;
  }
  return 0;
}

}  // namespace infini
