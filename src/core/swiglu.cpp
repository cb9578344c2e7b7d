#include "core/swiglu.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "core/vector_math.h"

namespace infini {

namespace {

torch::Tensor swiglu_by_formula(const torch::Tensor& gate_up) {
  auto halves = gate_up.chunk(2, -1);
  return torch::silu(halves[0]) * halves[1];
}

// out = g·σ(g)·u over n elements, in the compute precision.
template <typename C>
INFINI_INLINE void forward_block(const C* __restrict g, const C* __restrict u, C* __restrict o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const C sigmoid = C(1) / (C(1) + vec::exp(-g[i]));
    o[i] = g[i] * sigmoid * u[i];
  }
}

// d gate = d·u·σ(g)·(1 + g·(1 − σ(g))), d up = d·g·σ(g).
template <typename C>
INFINI_INLINE void backward_block(const C* __restrict d, const C* __restrict g, const C* __restrict u,
                                  C* __restrict dg, C* __restrict du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const C sigmoid = C(1) / (C(1) + vec::exp(-g[i]));
    dg[i] = d[i] * u[i] * sigmoid * (C(1) + g[i] * (C(1) - sigmoid));
    du[i] = d[i] * g[i] * sigmoid;
  }
}

// Rows [begin, end) of `width` (gate_up's rows are 2·width wide); bfloat16 through float32
// blocks (vec::kStage).
template <typename T>
INFINI_INLINE void forward_rows(const T* __restrict gate_up, T* __restrict out, int64_t width, int64_t begin,
                                int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const T* g = gate_up + row * 2 * width;
    const T* u = g + width;
    T* o = out + row * width;
    if constexpr (std::is_same_v<T, uint16_t>) {
      alignas(64) float gate[vec::kStage], up[vec::kStage], result[vec::kStage];
      for (int64_t i = 0; i < width; i += vec::kStage) {
        const int64_t n = std::min(vec::kStage, width - i);
        vec::widen_block(g + i, gate, n);
        vec::widen_block(u + i, up, n);
        forward_block(gate, up, result, n);
        vec::store_block(result, o + i, n);
      }
    } else {
      forward_block(g, u, o, width);
    }
  }
}

template <typename T>
INFINI_INLINE void backward_rows(const T* __restrict grad, const T* __restrict gate_up, T* __restrict out,
                                 int64_t width, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const T* g = gate_up + row * 2 * width;
    const T* u = g + width;
    const T* d = grad + row * width;
    T* dg = out + row * 2 * width;
    T* du = dg + width;
    if constexpr (std::is_same_v<T, uint16_t>) {
      alignas(64) float upstream[vec::kStage], gate[vec::kStage], up[vec::kStage], gate_grad[vec::kStage],
          up_grad[vec::kStage];
      for (int64_t i = 0; i < width; i += vec::kStage) {
        const int64_t n = std::min(vec::kStage, width - i);
        vec::widen_block(d + i, upstream, n);
        vec::widen_block(g + i, gate, n);
        vec::widen_block(u + i, up, n);
        backward_block(upstream, gate, up, gate_grad, up_grad, n);
        vec::store_block(gate_grad, dg + i, n);
        vec::store_block(up_grad, du + i, n);
      }
    } else {
      backward_block(d, g, u, dg, du, width);
    }
  }
}

#define INFINI_SWIGLU_ROWS(T)                                                                                \
  INFINI_VECTOR_CLONES void swiglu_forward_rows(const T* gate_up, T* out, int64_t width, int64_t begin,      \
                                                int64_t end) {                                               \
    forward_rows(gate_up, out, width, begin, end);                                                           \
  }                                                                                                          \
  INFINI_VECTOR_CLONES void swiglu_backward_rows(const T* grad, const T* gate_up, T* out, int64_t width,     \
                                                 int64_t begin, int64_t end) {                               \
    backward_rows(grad, gate_up, out, width, begin, end);                                                    \
  }
INFINI_SWIGLU_ROWS(float)
INFINI_SWIGLU_ROWS(double)
INFINI_SWIGLU_ROWS(uint16_t)
#undef INFINI_SWIGLU_ROWS

// Rows per task: about 16K elements.
int64_t grain(int64_t width) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, width)); }

struct SwiGlu : torch::autograd::Function<SwiGlu> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input) {
    const auto gate_up = input.contiguous();
    ctx->save_for_backward({gate_up});
    const int64_t width = gate_up.size(-1) / 2, rows = gate_up.numel() / std::max<int64_t>(1, 2 * width);
    auto sizes = gate_up.sizes().vec();
    sizes.back() = width;
    auto out = torch::empty(sizes, gate_up.options());
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gate_up.scalar_type(), "swiglu", [&] {
      const auto* source = vec::elements(gate_up.data_ptr<scalar_t>());
      auto* target = vec::elements(out.data_ptr<scalar_t>());
      at::parallel_for(0, rows, grain(width), [&](int64_t begin, int64_t end) {
        swiglu_forward_rows(source, target, width, begin, end);
      });
    });
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto gate_up = ctx->get_saved_variables()[0];
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradient through ATen's ops, with its graph
      auto halves = gate_up.chunk(2, -1);
      const auto &gate = halves[0], &up = halves[1];
      auto sigmoid = torch::sigmoid(gate);
      return {torch::cat({grads[0] * up * sigmoid * (1 + gate * (1 - sigmoid)), grads[0] * gate * sigmoid}, -1)};
    }
    const auto grad = grads[0].to(gate_up.scalar_type()).contiguous();
    const int64_t width = gate_up.size(-1) / 2, rows = gate_up.numel() / std::max<int64_t>(1, 2 * width);
    auto out = torch::empty_like(gate_up);
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, gate_up.scalar_type(), "swiglu_backward", [&] {
      const auto* upstream = vec::elements(grad.data_ptr<scalar_t>());
      const auto* source = vec::elements(gate_up.data_ptr<scalar_t>());
      auto* target = vec::elements(out.data_ptr<scalar_t>());
      at::parallel_for(0, rows, grain(width), [&](int64_t begin, int64_t end) {
        swiglu_backward_rows(upstream, source, target, width, begin, end);
      });
    });
    return {out};
  }
};

}  // namespace

torch::Tensor swiglu(const torch::Tensor& gate_up) {
  TORCH_CHECK(gate_up.size(-1) % 2 == 0, "swiglu: the last dimension (", gate_up.size(-1), ") is not even");
  if (!vec::loops_serve(gate_up)) return swiglu_by_formula(gate_up);
  return SwiGlu::apply(gate_up);
}

}  // namespace infini
