#include "train/stop_signal.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace infini {

namespace {

std::atomic<int> received{0};
struct sigaction previous_int, previous_term;

void write_message(const char* text) {
  size_t length = 0;
  while (text[length] != '\0') ++length;
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, text, length);
}

void on_signal(int sig) {
  int expected = 0;
  if (received.compare_exchange_strong(expected, sig)) {
    write_message("\ninfini: stopping after this step to write a checkpoint (signal again to exit now)\n");
    return;
  }
  write_message("\ninfini: second signal, exiting now (existing checkpoints are intact)\n");
  ::_exit(128 + sig);
}

}  // namespace

StopSignal::StopSignal() {
  received = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

StopSignal::~StopSignal() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

bool StopSignal::requested() const { return received.load() != 0; }
int StopSignal::signal() const { return received.load(); }

}  // namespace infini
