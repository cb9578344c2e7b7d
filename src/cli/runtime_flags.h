// --device and --threads, shared by every command that runs a model.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <torch/torch.h>

#include "cli/checks.h"
#include "core/runtime.h"

namespace infini::cli {

struct RuntimeFlags {
  std::string device = "cpu";
  int threads = 0;

  void add_to(CLI::App* command) {
    command->add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
    command->add_option("--threads", threads, "CPU threads (0: one per core)")
        ->capture_default_str()
        ->check(whole_number(0, kMaxThreads));
  }
  // Applies the thread count and returns the parsed device.
  torch::Device apply() const {
    set_threads(threads);
    return parse_device(device);
  }
};

}  // namespace infini::cli
