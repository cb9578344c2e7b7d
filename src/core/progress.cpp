#include "core/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/number_format.h"

namespace infini {

ProgressBar::ProgressBar(int64_t total, bool enabled) : total_(total), enabled_(enabled) {}

ProgressBar::~ProgressBar() { clear(); }

bool ProgressBar::on_terminal() { return ::isatty(STDERR_FILENO) == 1; }

bool ProgressBar::wanted(const std::string& mode) { return mode == "on" || (mode == "auto" && on_terminal()); }

ProgressBar* ProgressBar::active_ = nullptr;

std::string progress_line(int64_t done, int64_t total, const std::string& detail, const std::string& eta, int columns) {
  const double fraction = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  const std::string count = " " + std::to_string(done) + "/" + std::to_string(total);
  const std::string tail = " ETA " + eta;
  const int room = std::max(0, columns - 1);
  // The bar takes what is left after the count, the ETA and the detail, between 10 and 24 cells.
  const int rest = room - static_cast<int>(count.size() + tail.size() + 1 + detail.size()) - 2;
  const int width = std::clamp(rest, 10, 24);
  const int filled = static_cast<int>(width * fraction);
  std::string line = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]" + count;
  std::string shown = detail.empty() ? "" : " " + detail;
  const int left = room - static_cast<int>(line.size() + tail.size());
  if (static_cast<int>(shown.size()) > left) shown = left > 1 ? shown.substr(0, left - 1) + "~" : "";
  line += shown + tail;
  return line.size() > static_cast<size_t>(room) ? line.substr(0, room) : line;
}

int terminal_columns() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  const char* columns = std::getenv("COLUMNS");
  const int parsed = columns != nullptr ? std::atoi(columns) : 0;
  return parsed > 0 ? parsed : 80;
}

void ProgressBar::update(int64_t done, const std::string& detail, double seconds_per_unit) {
  if (!enabled_) return;
  const auto eta = duration_text(seconds_per_unit * static_cast<double>(total_ - done));
  std::fprintf(stderr, "\r\033[K%s", progress_line(done, total_, detail, eta, terminal_columns()).c_str());
  std::fflush(stderr);
  drawn_ = true;
  active_ = this;
  last_draw_ = std::chrono::steady_clock::now();
}

bool ProgressBar::due() const {
  return enabled_ && std::chrono::steady_clock::now() - last_draw_ >= std::chrono::milliseconds(250);
}

void ProgressBar::clear() {
  if (active_ == this) active_ = nullptr;
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void ProgressBar::clear_active() {
  if (active_ != nullptr) active_->clear();
}

}  // namespace infini
