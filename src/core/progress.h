// Progress of a long command. On a terminal, one live line redrawn in place (bar, done/total,
// the caller's detail such as loss and tokens/s, ETA); in a pipe or CI nothing is redrawn: the
// periodic log lines are the progress.
#pragma once

#include <cstdint>
#include <string>

namespace infini {

class ProgressBar {
 public:
  ProgressBar(int64_t total, bool enabled);  // enabled: stderr is a terminal (see on_terminal)
  ~ProgressBar();
  // `done` of `total` units finished; `detail` is printed after the count; `seconds_per_unit`
  // (the recent rate) gives the ETA.
  void update(int64_t done, const std::string& detail, double seconds_per_unit);
  // Clears the live line so a log line can be printed cleanly.
  void clear();
  bool enabled() const { return enabled_; }
  static bool on_terminal();
  // The --progress rule: "on", "off", or "auto" (on a terminal).
  static bool wanted(const std::string& mode);

 private:
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace infini
