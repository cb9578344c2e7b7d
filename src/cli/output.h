// Where a command's JSON result goes: standard output, or a file written atomically.
#pragma once

#include <iostream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <string>

#include "core/files.h"

namespace infini::cli {

inline void emit_json(const nlohmann::json& json, const std::string& out) {
  if (out.empty()) {
    std::cout << json.dump(2) << "\n";
  } else {
    write_file_atomic(out, json.dump(2) + "\n");
    spdlog::info("wrote {}", out);
  }
}

}  // namespace infini::cli
