// Process-wide runtime settings chosen once by the command line: device, threads, dtype.
#pragma once

#include <torch/torch.h>

#include <string>

#include "core/schema.h"

namespace infini {

// The compute dtypes a run or an evaluation may ask for (autocast; weights stay float32).
inline const Choices<torch::ScalarType> kComputeDtypeNames = {
    {"float32", torch::kFloat32}, {"bfloat16", torch::kBFloat16}, {"fp32", torch::kFloat32}, {"bf16", torch::kBFloat16}};

// "cpu", "cuda" or "cuda:N" as a device, without asking whether it is here (a config may be
// written on one machine and run on another); throws InputError for other names.
torch::Device device_named(const std::string& name);
std::string device_text(const torch::Device& device);
// Throws InputError when `device` is not on this machine.
void require_device(const torch::Device& device);
// device_named, then require_device.
torch::Device parse_device(const std::string& name);

// Parses a name of kComputeDtypeNames; throws InputError otherwise.
torch::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(torch::ScalarType dtype);

// Sets torch's intra-op threads; 0 means this process's share of the cores: all of them, or
// an equal part of them for each of LOCAL_WORLD_SIZE ranks on this machine (`infini launch`).
// LibTorch defaults to 1 on some machines.
void set_threads(int threads);

// Restricts LibTorch to deterministic kernels (an op without one fails), and cuBLAS to a fixed
// workspace (CUBLAS_WORKSPACE_CONFIG, unless set): CUDA runs then repeat bit for bit.
void use_deterministic_kernels();

}  // namespace infini
