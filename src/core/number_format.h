// Numbers as people read them, one way each, for logs, messages and reports.
#pragma once

#include <cstdint>
#include <string>

namespace infini {

// Decimal magnitudes: "950", "12.3K", "4.56M", "1.23B" (parameters, tokens/s).
std::string count_text(double value);
// Binary units: "512 B", "1.5 KiB", "3.2 MiB", "22.90 GiB" past a GiB (two decimals there).
std::string bytes_text(double bytes);
// Exact multiples of 1024 and 1048576 as "4K", "1M" (context lengths, axis ticks); else %g.
std::string length_text(double tokens);
// The inverse of length_text for whole token counts: "4096", "32K" (32·1024), "1M" (1,048,576);
// 0 when the text is no positive count.
int64_t length_from_text(const std::string& text);
// A whole number as an integer, anything else as %g: "1024", "0.003".
std::string plain_number(double value);
// "1h02m", "3m05s", "42s".
std::string duration_text(double seconds);

}  // namespace infini
