#include "core/files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <cstdio>
#include <stdexcept>

#include "core/errors.h"

namespace infini {

void write_file_atomic(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  fs::path target(path);
  if (fs::is_directory(target)) throw InputError(path + ": is a directory; name a file to write");
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      throw std::runtime_error("failed writing " + path);
    }
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  if (error) {
    fs::remove(temporary, error);
    throw InputError(path + ": cannot write there");
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path + ": not JSON (a syntax error at byte " + std::to_string(e.byte) + ")");
  }
}

namespace {

uint64_t fnv1a(std::string_view bytes, uint64_t hash) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::string hex64(uint64_t value) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(value));
  return hex;
}

}  // namespace

Fingerprint& Fingerprint::add(std::string_view bytes) {
  hash_ = fnv1a(bytes, hash_);
  return *this;
}

std::string Fingerprint::hex() const { return hex64(hash_); }

std::string fingerprint(std::string_view bytes) { return Fingerprint().add(bytes).hex(); }

std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read");
  Fingerprint hash;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) hash.add(std::string_view(buffer, static_cast<size_t>(in.gcount())));
  return hash.hex();
}

}  // namespace infini
