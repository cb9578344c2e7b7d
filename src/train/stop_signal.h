// SIGINT/SIGTERM while training: the first signal asks the loop to stop after the current step
// (it then writes a checkpoint and exits 0 saying how to resume); a second exits at once.
// Checkpoints are staged and renamed into place, so exiting at any moment damages none.
#pragma once

namespace infini {

class StopSignal {
 public:
  StopSignal();   // installs the handlers
  ~StopSignal();  // restores the previous ones
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  int signal() const;  // the first signal received, 0 if none
};

}  // namespace infini
