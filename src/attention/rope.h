// Rotary position embedding (RoPE) in Hugging Face's rotate-half layout: the first half of each
// head's channels pairs with the second half, x' = x·cos + rotate_half(x)·sin. On the CPU one
// loop each way (the gradient is the inverse rotation) writes a contiguous result from any
// strides, with the cos/sin table of recent shapes kept; elsewhere ATen's ops.
#pragma once

#include <torch/torch.h>

namespace infini {

// x: [batch, heads, length, head_dim]; token i takes position first_position + i.
torch::Tensor apply_rope(const torch::Tensor& x, int64_t first_position, double theta);

}  // namespace infini
