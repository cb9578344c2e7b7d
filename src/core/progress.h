// Progress of a long command. On a terminal, one live line redrawn in place (bar, done/total,
// the caller's detail such as loss and tokens/s, ETA); in a pipe or CI nothing is redrawn: the
// periodic log lines are the progress.
#pragma once

#include <chrono>
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
  // Whether a redraw is worth it now: enabled, and a quarter second since the last one (for
  // callers in a tight loop, such as one call per segment inside a long document).
  bool due() const;
  // Clears the live line so a log line can be printed cleanly.
  void clear();
  // Clears whichever bar is drawn (the log's sink calls this before every line).
  static void clear_active();
  bool enabled() const { return enabled_; }
  static bool on_terminal();
  // The --progress rule: "on", "off", or "auto" (on a terminal).
  static bool wanted(const std::string& mode);

 private:
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
  static ProgressBar* active_;  // the bar last drawn and not cleared since (the main thread's)
};

// The live line for `columns` terminal columns: "[####....] done/total detail ETA 3m05s", never
// wider than columns - 1 (the bar shrinks first, then the detail is cut).
std::string progress_line(int64_t done, int64_t total, const std::string& detail, const std::string& eta, int columns);
// The width of the terminal on stderr (COLUMNS, else 80, when it cannot be asked).
int terminal_columns();

}  // namespace infini
