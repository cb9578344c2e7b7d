// Rotary position embedding (RoPE) in Hugging Face's rotate-half layout: the first half of each
// head's channels pairs with the second half, x' = x·cos + rotate_half(x)·sin.
#pragma once

#include <torch/torch.h>

namespace infini {

// x: [batch, heads, length, head_dim]; token i takes position first_position + i.
torch::Tensor apply_rope(const torch::Tensor& x, int64_t first_position, double theta);

}  // namespace infini
