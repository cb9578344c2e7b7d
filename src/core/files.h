// Whole-file helpers: atomic writes (a failure never leaves a half-written or clobbered file),
// JSON reading with clear errors, content fingerprints.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace infini {

// Writes `text` to `path` through a temporary file in the same directory and a rename.
void write_file_atomic(const std::string& path, const std::string& text);

// Parses a JSON file; InputError naming the file when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path);

// 64-bit FNV-1a, as 16 hex digits: identifies tokenizers, inputs and configs.
std::string fingerprint(std::string_view bytes);
std::string file_fingerprint(const std::string& path);

// The same hash fed piece by piece: fingerprint(a + b) == (Fingerprint().add(a).add(b)).hex().
class Fingerprint {
 public:
  Fingerprint& add(std::string_view bytes);
  std::string hex() const;

 private:
  uint64_t hash_ = 14695981039346656037ull;  // FNV-1a's offset basis
};

}  // namespace infini
