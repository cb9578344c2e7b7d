#include "core/invocation.h"

namespace infini {

namespace {

struct Invocation {
  std::string command, program;
};

Invocation& invocation() {
  static Invocation recorded;
  return recorded;
}

}  // namespace

void record_invocation(int argc, char** argv, const std::string& program) {
  std::string command;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool quote = arg.empty() || arg.find_first_of(" \t'\"") != std::string::npos;
    command += (i > 0 ? " " : "") + (quote ? "'" + arg + "'" : arg);
  }
  invocation() = {command, program};
}

const std::string& invocation_command() { return invocation().command; }
const std::string& invocation_program() { return invocation().program; }

}  // namespace infini
