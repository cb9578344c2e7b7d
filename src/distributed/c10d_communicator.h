// Data parallelism on PyTorch's distributed runtime: a Communicator (train/communicator.h) backed
// by a c10d process group, Gloo on the CPU (NCCL where a CUDA build of LibTorch provides it),
// with the TCPStore rendezvous torchrun uses, read from the same environment variables:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <c10/core/Device.h>

#include "train/communicator.h"

namespace infini {

struct Rendezvous {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int port = 29500;
};

// The rendezvous the environment describes; nullopt when WORLD_SIZE is unset. Malformed values
// are an InputError naming the variable.
std::optional<Rendezvous> rendezvous_from_environment();

// Joins the process group. `backend`: "auto" (gloo for a CPU `device`, nccl for CUDA), "gloo" or
// "nccl" (whose collectives run on `device`). A backend this build lacks is an InputError.
std::shared_ptr<Communicator> connect(const Rendezvous& rendezvous, const std::string& backend,
                                      const c10::Device& device);

}  // namespace infini
