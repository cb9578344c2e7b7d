// Error types shared by every layer.
//
// InputError is "the user gave us something wrong" (a config key, a file, a document): the command
// line catches it once and exits with status 2. Anything else escaping a command exits with 1.
#pragma once

#include <stdexcept>
#include <string>

namespace infini {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace infini
