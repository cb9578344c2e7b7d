// Process-wide runtime settings chosen once by the command line: device, threads, dtype.
#pragma once

#include <torch/torch.h>

#include <string>

namespace infini {

// Parses "cpu", "cuda" or "cuda:N"; throws InputError when the device is unknown or absent.
torch::Device parse_device(const std::string& name);

// Parses "float32" / "bfloat16" (also "fp32", "bf16"); throws InputError otherwise.
torch::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(torch::ScalarType dtype);

// Sets torch's intra-op threads; 0 means one per core. LibTorch defaults to 1 on some machines.
void set_threads(int threads);

}  // namespace infini
