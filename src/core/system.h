// Facts about the process and the machine: peak memory, CPU features, the BLAS in use, devices.
// Used by `infini doctor`, by footprint reports and by benchmarks.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace infini {

// Peak resident set size of this process (VmHWM), in bytes; 0 where /proc is unavailable.
int64_t peak_rss_bytes();

// Peak CUDA memory allocated by this process's caching allocator, in bytes; 0 without CUDA.
int64_t peak_device_bytes();

// Memory a new allocation on `device` can still get: MemAvailable for the CPU, the free memory
// of a CUDA device; -1 when it cannot be told.
int64_t available_memory_bytes(const c10::Device& device);

// Starts both peaks again from the current use, so one process can measure several runs.
void reset_peak_memory();

struct CpuFeatures {
  std::string model;
  bool avx2 = false;
  bool avx512f = false;
  bool avx512_bf16 = false;
  bool amx = false;
};
CpuFeatures cpu_features();

struct BlasInfo {
  std::string library;  // "OpenBLAS", or a description of what torch reports
  std::string config;   // openblas_get_config(), when OpenBLAS is loaded
  std::string core;     // openblas_get_corename(), when OpenBLAS is loaded
  std::string coretype_env;  // OPENBLAS_CORETYPE as set in the environment, or ""
};
BlasInfo blas_info();

// The OpenBLAS core that would be fast on this CPU when OpenBLAS detected a generic one, or ""
// when nothing needs changing (already set, not OpenBLAS, or a core it knows).
std::string suggested_openblas_coretype(const CpuFeatures& cpu, const BlasInfo& blas);

// One line per device torch can use here ("cpu", "cuda:0 (NVIDIA H200)", ...).
std::vector<std::string> available_devices();

}  // namespace infini

namespace infini {

// Measured n×n×n matrix-multiply rate on `device` in `dtype` (median of a few calls), in
// GFLOP/s: the peak that MFU is reported against.
double matmul_gflops(int64_t n, c10::ScalarType dtype, const c10::Device& device, int iterations = 10);

// float32's and bfloat16's matmul rates on `device` (1024² products, the current threads), in
// GFLOP/s; bfloat16 0 where its matmul fails (oneDNN capped below what bfloat16 needs).
struct MatmulRates {
  double float32 = 0.0;
  double bfloat16 = 0.0;
  // Where bfloat16's matmuls are slower than float32's (AVX-512 without its BF16 units, or AVX2
  // alone: every block is converted), bfloat16 costs speed as well as precision.
  bool bfloat16_slower() const { return bfloat16 < float32; }
  double bfloat16_ratio() const { return float32 > 0.0 ? bfloat16 / float32 : 0.0; }
};
MatmulRates matmul_rates(const c10::Device& device, int iterations);

}  // namespace infini
