// Range checks for numbers on the command line, with messages a user can read:
//   --threads: expected a whole number from 0 to 1024, got '-1'
// NaN, infinities and text that is not a number are refused whatever the range.
#pragma once

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/number_format.h"

namespace infini::cli {


// A whole number in [lo, hi].
inline CLI::Validator whole_number(int64_t lo, int64_t hi) {
  const std::string expected = "a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long value = std::strtoll(text.c_str(), &end, 10);
        const bool parsed = !text.empty() && end != nullptr && *end == '\0' && errno == 0;
        if (!parsed || value < lo || value > hi) return "expected " + expected + ", got '" + text + "'";
        return "";
      },
      "INT in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// A finite number in [lo, hi], or in (lo, hi] when `above_lo`.
inline CLI::Validator real_number(double lo, double hi, bool above_lo = false) {
  const std::string expected = std::string("a number ") + (above_lo ? "above " : "from ") + plain_number(lo) +
                               (above_lo ? " and at most " : " to ") + plain_number(hi);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        const bool parsed = !text.empty() && end != nullptr && *end == '\0';
        if (!parsed || !std::isfinite(value) || value < lo || value > hi || (above_lo && value == lo)) {
          return "expected " + expected + ", got '" + text + "'";
        }
        return "";
      },
      "FLOAT in " + std::string(above_lo ? "(" : "[") + plain_number(lo) + ", " + plain_number(hi) + "]");
}

// Common bounds.
constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxCount = int64_t{1} << 40;  // steps, tokens, documents: far past any real use

}  // namespace infini::cli
