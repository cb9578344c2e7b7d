// Progress while training. On a terminal, one live line redrawn in place (step/total, loss,
// tokens/s, ETA); in a pipe or CI nothing is redrawn: the periodic log lines are the progress.
#pragma once

#include <cstdint>
#include <string>

namespace infini {

class ProgressBar {
 public:
  ProgressBar(int64_t total, bool enabled);  // enabled: stderr is a terminal (see on_terminal)
  ~ProgressBar();
  void update(int64_t step, double loss, double tokens_per_second, double seconds_per_step);
  // Clears the live line so a log line can be printed cleanly.
  void clear();
  static bool on_terminal();

 private:
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
};

// "1h02m", "3m05s", "42s"
std::string format_duration(double seconds);

}  // namespace infini
