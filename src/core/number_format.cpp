#include "core/number_format.h"

#include <cmath>
#include <spdlog/fmt/fmt.h>

namespace infini {

std::string count_text(double value) {
  if (value >= 1e9) return fmt::format("{:.2f}B", value / 1e9);
  if (value >= 1e6) return fmt::format("{:.2f}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.1f}K", value / 1e3);
  return fmt::format("{:.0f}", value);
}

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 3) bytes /= 1024, ++unit;
  if (unit == 0) return fmt::format("{:.0f} B", bytes);
  if (unit == 3) return bytes < 1e6 ? fmt::format("{:.2f} GiB", bytes) : fmt::format("{:.3g} GiB", bytes);
  return fmt::format("{:.1f} {}", bytes, units[unit]);
}

std::string length_text(double tokens) {
  const double magnitude = std::fabs(tokens);
  if (magnitude >= 1048576 && std::fmod(tokens, 1048576.0) == 0) return fmt::format("{:g}M", tokens / 1048576.0);
  if (magnitude >= 1024 && std::fmod(tokens, 1024.0) == 0) return fmt::format("{:g}K", tokens / 1024.0);
  return fmt::format("{:g}", tokens);
}

int64_t length_from_text(const std::string& text) {
  int64_t scale = 1;
  std::string digits = text;
  if (!digits.empty() && (digits.back() == 'K' || digits.back() == 'k')) scale = 1024;
  if (!digits.empty() && (digits.back() == 'M' || digits.back() == 'm')) scale = 1024 * 1024;
  if (scale > 1) digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 12) return 0;
  return std::stoll(digits) * scale;
}

std::string plain_number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(static_cast<int64_t>(value));
  return fmt::format("{:g}", value);
}

std::string duration_text(double seconds) {
  const auto total = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

}  // namespace infini
