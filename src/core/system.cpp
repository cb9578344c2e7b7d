#include "core/system.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#ifdef INFINI_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace infini {

namespace {

// The value in bytes of a "Key:   N kB" line of a /proc file; -1 when there is none.
int64_t proc_kib_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    int64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return -1;
}

}  // namespace

int64_t peak_rss_bytes() { return std::max<int64_t>(0, proc_kib_field("/proc/self/status", "VmHWM")); }

int64_t peak_device_bytes() {
#ifdef INFINI_WITH_CUDA
  if (!torch::cuda::is_available()) return 0;
  int64_t peak = 0;
  for (int64_t d = 0; d < static_cast<int64_t>(torch::cuda::device_count()); ++d) {
    // LibTorch 2.x refuses ("Invalid device argument") before the allocator's first use: nothing
    // was allocated there yet.
    try {
      auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<int>(d));
      peak += stats.allocated_bytes[0].peak;  // index 0: the aggregate over pool kinds
    } catch (const c10::Error&) {
    }
  }
  return peak;
#else
  return 0;
#endif
}

int64_t available_memory_bytes(const c10::Device& device) {
  if (device.is_cuda()) {
#ifdef INFINI_WITH_CUDA
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) return static_cast<int64_t>(free);
#endif
    return -1;
  }
  return proc_kib_field("/proc/meminfo", "MemAvailable");
}

void reset_peak_memory() {
  // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0 and later).
  std::ofstream("/proc/self/clear_refs") << "5";
#ifdef INFINI_WITH_CUDA
  if (!torch::cuda::is_available()) return;
  for (int64_t d = 0; d < static_cast<int64_t>(torch::cuda::device_count()); ++d) {
    try {
      c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<int>(d));
    } catch (const c10::Error&) {  // not used yet (LibTorch 2.x): no peak to reset
    }
  }
#endif
}

CpuFeatures cpu_features() {
  CpuFeatures cpu;
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(info, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && cpu.model.empty()) cpu.model = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.insert(w);
    }
  }
  cpu.avx2 = flags.count("avx2") > 0;
  cpu.avx512f = flags.count("avx512f") > 0;
  cpu.avx512_bf16 = flags.count("avx512_bf16") > 0;
  cpu.amx = flags.count("amx_bf16") > 0;
  return cpu;
}

BlasInfo blas_info() {
  BlasInfo blas;
  // OpenBLAS exports these; finding them in the loaded process tells us which BLAS torch uses.
  using text_fn = char* (*)();
  auto config = reinterpret_cast<text_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  auto core = reinterpret_cast<text_fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (config && core) {
    blas.library = "OpenBLAS";
    blas.config = config();
    blas.core = core();
  } else if (dlsym(RTLD_DEFAULT, "mkl_get_version")) {
    blas.library = "MKL";
  } else {
    blas.library = "unknown (reference BLAS or statically linked)";
  }
  if (const char* env = std::getenv("OPENBLAS_CORETYPE")) blas.coretype_env = env;
  return blas;
}

std::string suggested_openblas_coretype(const CpuFeatures& cpu, const BlasInfo& blas) {
  if (blas.library != "OpenBLAS" || !blas.coretype_env.empty()) return "";
  std::string core = blas.core;
  for (auto& c : core) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // In VMs OpenBLAS often fails to identify the CPU and falls back to a generic SSE kernel.
  bool generic = core == "prescott" || core == "core2" || core == "nehalem" || core == "atom" ||
                 core == "katmai" || core == "unknown" || core.empty();
  if (!generic) return "";
  if (cpu.avx512_bf16) return "Cooperlake";
  if (cpu.avx512f) return "SkylakeX";
  if (cpu.avx2) return "Haswell";
  return "";
}

std::vector<std::string> available_devices() {
  std::vector<std::string> devices{"cpu"};
  if (torch::cuda::is_available()) {
    for (int64_t d = 0; d < static_cast<int64_t>(torch::cuda::device_count()); ++d) {
      devices.push_back("cuda:" + std::to_string(d));
    }
  }
  return devices;
}

}  // namespace infini

namespace infini {

double matmul_gflops(int64_t n, c10::ScalarType dtype, const c10::Device& device, int iterations) {
  torch::NoGradGuard no_grad;
  auto options = torch::TensorOptions().dtype(dtype).device(device);
  auto a = torch::randn({n, n}, options), b = torch::randn({n, n}, options);
  auto sync = [&] {
    if (device.is_cuda()) a.sum().item<double>();  // waits for the queued kernels
  };
  torch::matmul(a, b);
  sync();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    torch::matmul(a, b);
    sync();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return 2.0 * static_cast<double>(n) * n * n / times[times.size() / 2] / 1e9;
}

MatmulRates matmul_rates(const c10::Device& device, int iterations) {
  MatmulRates rates;
  rates.float32 = matmul_gflops(1024, torch::kFloat32, device, iterations);
  try {
    rates.bfloat16 = matmul_gflops(1024, torch::kBFloat16, device, iterations);
  } catch (const c10::Error&) {
    rates.bfloat16 = 0.0;
  }
  return rates;
}

}  // namespace infini
