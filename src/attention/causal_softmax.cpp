#include "attention/causal_softmax.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <vector>

#include "attention/compressive_memory.h"
#include "core/vector_math.h"

namespace infini {

namespace {

torch::Tensor causal_softmax_by_formula(const torch::Tensor& scores, int64_t offset) {
  const int64_t rows = scores.size(-2), keys = scores.size(-1);
  auto future = torch::ones({rows, keys}, torch::TensorOptions().dtype(torch::kBool).device(scores.device()))
                    .triu(offset + 1);
  // Softmax in float32 at least (bfloat16 exponentials lose too much), float64 in float64.
  return torch::softmax(scores.masked_fill(future, -INFINITY), -1, accumulation_dtype(scores.scalar_type()))
      .to(scores.scalar_type());
}

// Rows [begin, end) of `rows`-row blocks, each `keys` wide; row r of a block sees keys
// 0 … offset + r. `buffer` holds one row's exponentials in the compute precision.
template <typename T>
INFINI_INLINE void forward_rows(const T* __restrict scores, T* __restrict out, vec::Compute<T>* __restrict buffer,
                                int64_t rows, int64_t keys, int64_t offset, int64_t begin, int64_t end) {
  using C = vec::Compute<T>;
  for (int64_t row = begin; row < end; ++row) {
    const T* x = scores + row * keys;
    T* p = out + row * keys;
    const int64_t seen = std::min(keys, offset + row % rows + 1);
    const C largest = vec::maximum<C>(seen, [&](int64_t j) { return vec::widen(x[j]); });
    if constexpr (std::is_same_v<T, uint16_t>) {  // widened first: one element width per loop (vec::widen_block)
      vec::widen_block(x, buffer, seen);
      for (int64_t j = 0; j < seen; ++j) buffer[j] = vec::exp(buffer[j] - largest);
    } else {
      for (int64_t j = 0; j < seen; ++j) buffer[j] = vec::exp(x[j] - largest);
    }
    const C scale = C(1) / vec::sum<C>(seen, [&](int64_t j) { return buffer[j]; });
    for (int64_t j = 0; j < seen; ++j) vec::store(p[j], buffer[j] * scale);
    for (int64_t j = seen; j < keys; ++j) vec::store(p[j], C(0));
  }
}

// dS_j = P_j · (dP_j − Σ_k dP_k · P_k) over the visible keys, 0 beyond.
template <typename T>
INFINI_INLINE void backward_rows(const T* __restrict grad, const T* __restrict probs, T* __restrict out,
                                 int64_t rows, int64_t keys, int64_t offset, int64_t begin, int64_t end) {
  using C = vec::Compute<T>;
  for (int64_t row = begin; row < end; ++row) {
    const T* d = grad + row * keys;
    const T* p = probs + row * keys;
    T* g = out + row * keys;
    const int64_t seen = std::min(keys, offset + row % rows + 1);
    const C dot = vec::sum<C>(seen, [&](int64_t j) { return vec::widen(d[j]) * vec::widen(p[j]); });
    for (int64_t j = 0; j < seen; ++j) vec::store(g[j], vec::widen(p[j]) * (vec::widen(d[j]) - dot));
    for (int64_t j = seen; j < keys; ++j) vec::store(g[j], C(0));
  }
}

#define INFINI_CAUSAL_SOFTMAX_ROWS(T)                                                                        \
  INFINI_VECTOR_CLONES void causal_softmax_rows(const T* scores, T* out, vec::Compute<T>* buffer, int64_t rows, \
                                                int64_t keys, int64_t offset, int64_t begin, int64_t end) {  \
    forward_rows(scores, out, buffer, rows, keys, offset, begin, end);                                       \
  }                                                                                                          \
  INFINI_VECTOR_CLONES void causal_softmax_backward_rows(const T* grad, const T* probs, T* out, int64_t rows, \
                                                         int64_t keys, int64_t offset, int64_t begin,        \
                                                         int64_t end) {                                      \
    backward_rows(grad, probs, out, rows, keys, offset, begin, end);                                         \
  }
INFINI_CAUSAL_SOFTMAX_ROWS(float)
INFINI_CAUSAL_SOFTMAX_ROWS(double)
INFINI_CAUSAL_SOFTMAX_ROWS(uint16_t)
#undef INFINI_CAUSAL_SOFTMAX_ROWS

// Rows per task: about 16K scores.
int64_t grain(int64_t keys) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, keys)); }

struct CausalSoftmax : torch::autograd::Function<CausalSoftmax> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, int64_t offset) {
    const auto scores = input.contiguous();
    const int64_t rows = scores.size(-2), keys = scores.size(-1), count = scores.numel() / std::max<int64_t>(1, keys);
    auto out = torch::empty(scores.sizes(), scores.options());
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, scores.scalar_type(), "causal_softmax", [&] {
      const auto* source = vec::elements(scores.data_ptr<scalar_t>());
      auto* target = vec::elements(out.data_ptr<scalar_t>());
      at::parallel_for(0, count, grain(keys), [&](int64_t begin, int64_t end) {
        std::vector<vec::Compute<scalar_t>> buffer(keys);
        causal_softmax_rows(source, target, buffer.data(), rows, keys, offset, begin, end);
      });
    });
    ctx->save_for_backward({out});
    ctx->saved_data["offset"] = offset;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto probs = ctx->get_saved_variables()[0];
    const int64_t offset = ctx->saved_data["offset"].toInt();
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradient through ATen's ops, with its graph
      return {probs * (grads[0] - (grads[0] * probs).sum(-1, true)), torch::Tensor()};
    }
    const auto grad = grads[0].to(probs.scalar_type()).contiguous();
    const int64_t rows = probs.size(-2), keys = probs.size(-1), count = probs.numel() / std::max<int64_t>(1, keys);
    auto out = torch::empty_like(probs);
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, probs.scalar_type(), "causal_softmax_backward", [&] {
      const auto* upstream = vec::elements(grad.data_ptr<scalar_t>());
      const auto* saved = vec::elements(probs.data_ptr<scalar_t>());
      auto* target = vec::elements(out.data_ptr<scalar_t>());
      at::parallel_for(0, count, grain(keys), [&](int64_t begin, int64_t end) {
        causal_softmax_backward_rows(upstream, saved, target, rows, keys, offset, begin, end);
      });
    });
    return {out, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor causal_softmax(const torch::Tensor& scores, int64_t offset) {
  if (!vec::loops_serve(scores) || scores.size(-1) == 0) return causal_softmax_by_formula(scores, offset);
  return CausalSoftmax::apply(scores, offset);
}

}  // namespace infini
