// `infini launch`: starts N local processes of one command with the torchrun environment
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), forwards SIGINT and
// SIGTERM to all of them, and fails the whole job as soon as one rank fails: the others are
// stopped (SIGTERM, then SIGKILL after a grace period) and the launcher exits non-zero.
#pragma once

#include <string>
#include <vector>

namespace infini {

struct LaunchOptions {
  int nproc = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int grace_seconds = 10;
};

// Runs `command` (argv) in `nproc` processes; returns the exit status for the launcher: 0 when
// every rank exited 0; 2 when the first rank to fail exited 2 (bad usage or input, which every
// rank shares); else 1 (after a line naming the rank and how it ended).
int launch_local(const LaunchOptions& options, const std::vector<std::string>& command);

}  // namespace infini
