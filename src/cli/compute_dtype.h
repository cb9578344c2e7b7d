// The dtype a command computes in: what run.dtype or --dtype asks, unless bfloat16 would be slower.
#pragma once

#include <cstdlib>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "core/system.h"

namespace infini::cli {

// bfloat16 asked for on a CPU whose bfloat16 matmuls run slower than float32's computes in
// float32, with a warning: there bfloat16 would cost speed as well as precision (issue 15's
// network trained at 0.78-0.82x of its float32 speed with oneDNN capped below AVX-512 BF16, where
// its matmuls ran at 0.59x). Measured with the command's threads (about 0.1 s);
// INFINI_KEEP_BFLOAT16=1 keeps bfloat16 whatever the rates.
inline torch::ScalarType compute_dtype(torch::ScalarType asked, const torch::Device& device) {
  if (asked != torch::kBFloat16 || !device.is_cpu() || std::getenv("INFINI_KEEP_BFLOAT16")) return asked;
  const auto rates = matmul_rates(device, 3);
  if (!rates.bfloat16_slower()) return asked;
  spdlog::warn("bfloat16 matmuls run at {:.2f}x float32's rate on this CPU ({:.0f} against {:.0f} GFLOP/s): computing "
               "in float32 instead (INFINI_KEEP_BFLOAT16=1 keeps bfloat16)",
               rates.bfloat16_ratio(), rates.bfloat16, rates.float32);
  return torch::kFloat32;
}

}  // namespace infini::cli
