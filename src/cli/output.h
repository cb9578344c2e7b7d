// Where a command's JSON result goes: standard output, or a file written atomically.
#pragma once

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <string>

#include "core/errors.h"
#include "core/files.h"

namespace infini::cli {

// Checked before any work: --out must name a file (a failure at the end would waste the run).
inline void require_output_file(const std::string& out) {
  if (!out.empty() && std::filesystem::is_directory(out)) throw InputError(out + ": is a directory; --out names a file");
}

inline void emit_json(const nlohmann::json& json, const std::string& out) {
  if (out.empty()) {
    std::cout << json.dump(2) << "\n";
  } else {
    write_file_atomic(out, json.dump(2) + "\n");
    spdlog::info("wrote {}", out);
  }
}

}  // namespace infini::cli
