#include "core/runtime.h"

#include <cstdlib>
#include <thread>

#include "core/errors.h"

namespace infini {

torch::Device device_named(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda") return torch::Device(torch::kCUDA, 0);
  if (name.rfind("cuda:", 0) == 0) {
    const std::string index = name.substr(5);
    if (!index.empty() && index.size() < 4 && index.find_first_not_of("0123456789") == std::string::npos) {
      return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(index)));
    }
  }
  throw InputError("device '" + name + "': expected cpu, cuda or cuda:N");
}

std::string device_text(const torch::Device& device) { return device.is_cpu() ? "cpu" : device.str(); }

void require_device(const torch::Device& device) {
  if (!device.is_cuda()) return;
  const std::string name = device.str();
  if (!torch::cuda::is_available()) {
    throw InputError("device '" + name + "': CUDA is not available in this build or on this machine");
  }
  if (device.index() >= static_cast<int64_t>(torch::cuda::device_count())) {
    throw InputError("device '" + name + "': only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s) here");
  }
}

torch::Device parse_device(const std::string& name) {
  const auto device = device_named(name);
  require_device(device);
  return device;
}

torch::ScalarType parse_dtype(const std::string& name) {
  if (const auto dtype = choice_value(kComputeDtypeNames, name)) return *dtype;
  throw InputError("dtype '" + name + "': expected float32 or bfloat16");
}

std::string dtype_name(torch::ScalarType dtype) {
  if (dtype == torch::kFloat64) return "float64";
  const auto name = choice_name(kComputeDtypeNames, dtype);
  return name != "?" ? name : std::string(c10::toString(dtype));
}

void use_deterministic_kernels() {
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
}

void set_threads(int threads) {
  if (threads <= 0) {
    const char* local_ranks = std::getenv("LOCAL_WORLD_SIZE");
    const int local = std::max(1, local_ranks != nullptr ? std::atoi(local_ranks) : 1);
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / local);
  }
  torch::set_num_threads(threads);
}

}  // namespace infini
