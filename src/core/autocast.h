// Scoped automatic mixed precision: inside an enabled scope, matrix multiplies run in the given
// lower precision (bf16) on CPU and CUDA while parameters stay float32 (the master weights).
// A disabled scope inside an enabled one keeps a region in full precision: the compressive
// memory is read and written in float32 that way.
#pragma once

#include <torch/torch.h>

#include <optional>

#include "core/torch_compat.h"

namespace infini {

class AutocastScope {
 public:
  AutocastScope(bool enabled, torch::ScalarType dtype = torch::kBFloat16)
      : cpu_enabled_(compat::autocast_enabled(c10::DeviceType::CPU)),
        gpu_enabled_(compat::autocast_enabled(c10::DeviceType::CUDA)),
        cpu_dtype_(compat::autocast_dtype(c10::DeviceType::CPU)),
        gpu_dtype_(compat::autocast_dtype(c10::DeviceType::CUDA)) {
    compat::set_autocast_enabled(c10::DeviceType::CPU, enabled);
    compat::set_autocast_enabled(c10::DeviceType::CUDA, enabled);
    if (enabled) {
      compat::set_autocast_dtype(c10::DeviceType::CPU, dtype);
      compat::set_autocast_dtype(c10::DeviceType::CUDA, dtype);
    }
  }
  ~AutocastScope() {
    // Casts cached for this scope's parameters must not outlive it (they would go stale).
    if (!cpu_enabled_ && !gpu_enabled_) at::autocast::clear_cache();
    compat::set_autocast_enabled(c10::DeviceType::CPU, cpu_enabled_);
    compat::set_autocast_enabled(c10::DeviceType::CUDA, gpu_enabled_);
    compat::set_autocast_dtype(c10::DeviceType::CPU, cpu_dtype_);
    compat::set_autocast_dtype(c10::DeviceType::CUDA, gpu_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  static bool active() {
    return compat::autocast_enabled(c10::DeviceType::CPU) || compat::autocast_enabled(c10::DeviceType::CUDA);
  }
  static torch::ScalarType dtype() { return compat::autocast_dtype(c10::DeviceType::CPU); }

  // The dtype a matrix multiply would cast `x` to first: bfloat16 for a float32 CPU tensor inside
  // an enabled bfloat16 scope; none otherwise. An op whose result only feeds a matrix multiply
  // can round to it at once, the same bits one pass sooner.
  static std::optional<torch::ScalarType> matmul_cast(const torch::Tensor& x) {
    if (!compat::autocast_enabled(c10::DeviceType::CPU) || dtype() != torch::kBFloat16) return std::nullopt;
    if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32) return std::nullopt;
    return torch::kBFloat16;
  }

 private:
  bool cpu_enabled_, gpu_enabled_;
  torch::ScalarType cpu_dtype_, gpu_dtype_;
};

}  // namespace infini
