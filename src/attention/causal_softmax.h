// Softmax over the keys a query may see: row r of a block whose first query sits `offset`
// positions after the first key sees keys 0 … offset + r, the rest get probability 0.
//
// One pass forward and one backward over the visible part (half of a causal segment's scores),
// where the plain form materialises a mask, fills the scores, runs softmax over whole rows in
// float32 and casts the result back: four passes each way. On the CPU in float32, bfloat16 and
// float64 (exponentials and sums in float32, float32 and float64; a bfloat16 result is rounded
// once and its backward reads the rounded probabilities, as ATen's bfloat16 softmax does);
// elsewhere the plain form. A backward that builds a graph (create_graph) runs through ATen's ops.
#pragma once

#include <torch/torch.h>

namespace infini {

// scores: [..., rows, keys]. Returns the probabilities in the scores' dtype.
torch::Tensor causal_softmax(const torch::Tensor& scores, int64_t offset);

}  // namespace infini
