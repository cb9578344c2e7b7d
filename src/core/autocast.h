// Scoped automatic mixed precision: inside an enabled scope, matrix multiplies run in the given
// lower precision (bf16) on CPU and CUDA while parameters stay float32 (the master weights).
// A disabled scope inside an enabled one keeps a region in full precision: the compressive
// memory is read and written in float32 that way.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace infini {

class AutocastScope {
 public:
  AutocastScope(bool enabled, torch::ScalarType dtype = torch::kBFloat16)
      : cpu_enabled_(at::autocast::is_cpu_enabled()),
        gpu_enabled_(at::autocast::is_enabled()),
        cpu_dtype_(at::autocast::get_autocast_cpu_dtype()),
        gpu_dtype_(at::autocast::get_autocast_gpu_dtype()) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_enabled(enabled);
    if (enabled) {
      at::autocast::set_autocast_cpu_dtype(dtype);
      at::autocast::set_autocast_gpu_dtype(dtype);
    }
  }
  ~AutocastScope() {
    // Casts cached for this scope's parameters must not outlive it (they would go stale).
    if (!cpu_enabled_ && !gpu_enabled_) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(cpu_enabled_);
    at::autocast::set_enabled(gpu_enabled_);
    at::autocast::set_autocast_cpu_dtype(cpu_dtype_);
    at::autocast::set_autocast_gpu_dtype(gpu_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  static bool active() { return at::autocast::is_cpu_enabled() || at::autocast::is_enabled(); }
  static torch::ScalarType dtype() { return at::autocast::get_autocast_cpu_dtype(); }

 private:
  bool cpu_enabled_, gpu_enabled_;
  torch::ScalarType cpu_dtype_, gpu_dtype_;
};

}  // namespace infini
