#include "core/progress.h"

#include "core/number_format.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace infini {

ProgressBar::ProgressBar(int64_t total, bool enabled) : total_(total), enabled_(enabled) {}

ProgressBar::~ProgressBar() { clear(); }

bool ProgressBar::on_terminal() { return ::isatty(STDERR_FILENO) == 1; }

bool ProgressBar::wanted(const std::string& mode) { return mode == "on" || (mode == "auto" && on_terminal()); }

void ProgressBar::update(int64_t done, const std::string& detail, double seconds_per_unit) {
  if (!enabled_) return;
  constexpr int kWidth = 24;
  const double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 0.0;
  const int filled = static_cast<int>(kWidth * fraction);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::fprintf(stderr, "\r\033[K[%s] %ld/%ld %s ETA %s", bar.c_str(), done, total_, detail.c_str(),
               duration_text(seconds_per_unit * static_cast<double>(total_ - done)).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace infini
