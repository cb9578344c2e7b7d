// What produced a result: the command line with its flags, the program and its version, the
// date, the checkpoint's training step and a fingerprint of the data read. Every result JSON
// carries one ("provenance"), and `infini report` shows them.
#pragma once

#include <cstdint>
#include <string>

#include "core/schema.h"

namespace infini {

struct Provenance {
  std::string command;           // as typed; "" when not run from the command line
  std::string program;           // "infini 0.3.0 (LibTorch 1.13.1)"
  std::string date;              // UTC, ISO 8601
  int64_t checkpoint_step = -1;  // the step its trainer_state.json records; -1: not a training checkpoint
  std::string data_fingerprint;  // FNV-1a of the document names and tokens scored (the prompts for
                                 // passkey); "" when no data was read
};

template <class F>
void fields(F& f, Provenance& p) {
  f("command", p.command);
  f("program", p.program);
  f("date", p.date);
  f("checkpoint_step", p.checkpoint_step, at_least(-1));
  f("data_fingerprint", p.data_fingerprint);
}

// This process's command line and program, now, and `checkpoint`'s step.
Provenance provenance_of(const std::string& checkpoint, const std::string& data_fingerprint);

}  // namespace infini
