#include "core/cpu_share.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace infini {

int threads_beside(int most, int cores, double others_busy) {
  const int taken = static_cast<int>(std::floor(std::max(0.0, others_busy) + (1.0 - kBusyCores)));
  return std::max(1, std::min(most, cores - taken));
}

CpuShare::CpuShare(int most, int cores, std::chrono::duration<double> interval)
    : most_(std::max(1, most)), cores_(std::max(1, cores)), answer_(most_), interval_(interval), last_(sample()) {}

CpuShare::Sample CpuShare::sample() {
  Sample s;
  s.at = std::chrono::steady_clock::now();
  std::ifstream stat("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq && cpu == "cpu") {
    s.machine_busy = user + nice + system + irq + softirq;
  }
  // /proc/self/stat: utime and stime are fields 14 and 15, after a command name in parentheses.
  std::ifstream self("/proc/self/stat");
  std::string line;
  if (std::getline(self, line)) {
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream fields(line.substr(close + 2));
      std::string field;
      int64_t utime = 0, stime = 0;
      for (int i = 3; i < 14 && fields >> field; ++i) {
      }
      if (fields >> utime >> stime) s.own = utime + stime;
    }
  }
  return s;
}

int CpuShare::threads() {
  const auto now = std::chrono::steady_clock::now();
  const auto wait = looked_ ? interval_ : std::min<std::chrono::duration<double>>(interval_, first_look);
  if (now - last_.at < wait) return answer_;
  looked_ = true;
  const Sample current = sample();
  if (current.machine_busy >= 0 && current.own >= 0 && last_.machine_busy >= 0 && last_.own >= 0) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK)) *
                         std::chrono::duration<double>(current.at - last_.at).count();
    const auto others = (current.machine_busy - last_.machine_busy) - (current.own - last_.own);
    others_busy_ = ticks > 0 ? std::max(0.0, static_cast<double>(others) / ticks) : 0.0;
    answer_ = threads_beside(most_, cores_, others_busy_);
  }
  last_ = current;
  return answer_;
}

double others_busy_over(std::chrono::milliseconds span) {
  CpuShare share(1, 1, span);
  std::this_thread::sleep_for(span);
  share.threads();
  return share.others_busy();
}

bool waits_passively() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (policy == nullptr) return false;
  std::string lower(policy);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "passive";
}

bool spin_count_chosen_at_start() {
  return std::getenv("INFINI_CHOSE_SPINCOUNT") != nullptr && !waits_passively();
}

void wait_passively_from_next_start() {
  ::unsetenv("GOMP_SPINCOUNT");
  ::unsetenv("INFINI_CHOSE_SPINCOUNT");
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
}

}  // namespace infini
