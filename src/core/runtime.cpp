#include "core/runtime.h"

#include <thread>

#include "core/errors.h"

namespace infini {

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw InputError("device '" + name + "': CUDA is not available in this build or on this machine");
    }
    torch::Device device(name == "cuda" ? std::string("cuda:0") : name);
    if (device.index() >= static_cast<int64_t>(torch::cuda::device_count())) {
      throw InputError("device '" + name + "': only " + std::to_string(torch::cuda::device_count()) +
                       " CUDA device(s) here");
    }
    return device;
  }
  throw InputError("device '" + name + "': expected cpu, cuda or cuda:N");
}

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float64" || name == "fp64") return torch::kFloat64;
  throw InputError("dtype '" + name + "': expected float32 or bfloat16");
}

std::string dtype_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat64: return "float64";
    default: return c10::toString(dtype);
  }
}

void set_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
}

}  // namespace infini
