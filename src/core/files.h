// Writing output files so that a failure never leaves a half-written or clobbered file.
#pragma once

#include <string>

namespace infini {

// Writes `text` to `path` through a temporary file in the same directory and a rename.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace infini
