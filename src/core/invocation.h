// How this process was started, recorded once by main so that the results it writes can say
// what produced them (eval/provenance.h).
#pragma once

#include <string>

namespace infini {

void record_invocation(int argc, char** argv, const std::string& program);
// The command line as typed, arguments with spaces quoted; "" when nothing was recorded (tests).
const std::string& invocation_command();
// "infini 0.3.0 (LibTorch 1.13.1)"; "" when nothing was recorded.
const std::string& invocation_program();

}  // namespace infini
