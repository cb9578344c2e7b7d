#include "core/rms_norm.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "core/vector_math.h"

namespace infini {

namespace {

torch::Tensor rms_norm_by_formula(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                                  torch::ScalarType output_dtype) {
  // As in HF Llama: normalise in float32 (float64 for float64), cast back, then scale.
  auto wide = x.to(x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  auto normed = wide * torch::rsqrt(wide.pow(2).mean(-1, true) + eps);
  return (weight * normed.to(x.scalar_type())).to(output_dtype);
}

// Rows [begin, end) of `width`: out = w · x · r with r = 1 / √(mean(x²) + ε), kept per row.
template <typename X, typename O>
INFINI_INLINE void forward_rows(const X* __restrict x, const X* __restrict weight, O* __restrict out,
                                X* __restrict inverse, int64_t width, X eps, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const X* in = x + row * width;
    O* o = out + row * width;
    const X mean_square = vec::sum<X>(width, [&](int64_t j) { return in[j] * in[j]; }) / X(width);
    const X r = X(1) / std::sqrt(mean_square + eps);
    inverse[row] = r;
    for (int64_t j = 0; j < width; ++j) vec::store(o[j], weight[j] * (in[j] * r));
  }
}

// dx_j = r·w_j·g_j − r³/D · x_j · Σ_i g_i·w_i·x_i; the weight's gradient g_j·x_j·r summed over
// the rows into `weight_grad`.
template <typename X, typename G>
INFINI_INLINE void backward_rows(const G* __restrict grad, const X* __restrict x, const X* __restrict weight,
                                 const X* __restrict inverse, X* __restrict input_grad, X* __restrict weight_grad,
                                 int64_t width, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const G* g = grad + row * width;
    const X* in = x + row * width;
    X* dx = input_grad + row * width;
    const X r = inverse[row];
    const X dot = vec::sum<X>(width, [&](int64_t j) { return vec::widen(g[j]) * weight[j] * in[j]; });
    const X along = r * r * r * dot / X(width);
    for (int64_t j = 0; j < width; ++j) {
      const X upstream = vec::widen(g[j]);
      dx[j] = r * weight[j] * upstream - along * in[j];
      weight_grad[j] += upstream * in[j] * r;
    }
  }
}

#define INFINI_RMS_NORM_ROWS(X, O)                                                                          \
  INFINI_VECTOR_CLONES void rms_norm_rows(const X* x, const X* weight, O* out, X* inverse, int64_t width,    \
                                          X eps, int64_t begin, int64_t end) {                              \
    forward_rows(x, weight, out, inverse, width, eps, begin, end);                                          \
  }                                                                                                         \
  INFINI_VECTOR_CLONES void rms_norm_backward_rows(const O* grad, const X* x, const X* weight, const X* inverse, \
                                                   X* input_grad, X* weight_grad, int64_t width, int64_t begin, \
                                                   int64_t end) {                                           \
    backward_rows(grad, x, weight, inverse, input_grad, weight_grad, width, begin, end);                    \
  }
INFINI_RMS_NORM_ROWS(float, float)
INFINI_RMS_NORM_ROWS(float, uint16_t)
INFINI_RMS_NORM_ROWS(double, double)
#undef INFINI_RMS_NORM_ROWS

// Rows per task: about 16K elements. The backward sums the weight's gradient per block of rows
// and then the blocks in order, so the result does not depend on the thread count.
int64_t block_rows(int64_t width) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, width)); }

// Calls body(x, weight, output) with the loops' element types for x's dtype and the output's.
template <typename Body>
void dispatch(torch::ScalarType x_dtype, torch::ScalarType output_dtype, Body&& body) {
  if (x_dtype == torch::kFloat64) {
    body(double{}, double{});
  } else if (output_dtype == torch::kBFloat16) {
    body(float{}, uint16_t{});
  } else {
    body(float{}, float{});
  }
}

struct RmsNorm : torch::autograd::Function<RmsNorm> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight_input, double eps, int64_t output_dtype) {
    const auto x = input.contiguous(), weight = weight_input.contiguous();
    const auto dtype = static_cast<torch::ScalarType>(output_dtype);
    const int64_t width = x.size(-1), rows = x.numel() / std::max<int64_t>(1, width);
    auto out = torch::empty(x.sizes(), x.options().dtype(dtype));
    auto inverse = torch::empty({rows}, x.options());
    dispatch(x.scalar_type(), dtype, [&](auto x_type, auto out_type) {
      using X = decltype(x_type);
      using O = decltype(out_type);
      const X* source = x.data_ptr<X>();
      const X* scale = weight.data_ptr<X>();
      O* target = reinterpret_cast<O*>(out.data_ptr());
      X* kept = inverse.data_ptr<X>();
      at::parallel_for(0, rows, block_rows(width), [&](int64_t begin, int64_t end) {
        rms_norm_rows(source, scale, target, kept, width, static_cast<X>(eps), begin, end);
      });
    });
    ctx->save_for_backward({x, weight, inverse});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["output_dtype"] = output_dtype;
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &inverse = saved[2];
    const auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["output_dtype"].toInt());
    const int64_t width = x.size(-1), rows = x.numel() / std::max<int64_t>(1, width);
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradient through ATen's ops, with its graph
      const double eps = ctx->saved_data["eps"].toDouble();
      auto upstream = grads[0].to(x.scalar_type());
      auto r = torch::rsqrt(x.pow(2).mean(-1, true) + eps);
      auto scaled = upstream * weight;
      auto input_grad = r * scaled - r.pow(3) * (scaled * x).mean(-1, true) * x;
      return {input_grad, (upstream * x * r).reshape({rows, width}).sum(0), torch::Tensor(), torch::Tensor()};
    }
    const auto grad = grads[0].to(dtype).contiguous();
    auto input_grad = torch::empty_like(x);
    const int64_t per_block = block_rows(width), blocks = (rows + per_block - 1) / per_block;
    auto partial = torch::zeros({blocks, width}, x.options());
    dispatch(x.scalar_type(), dtype, [&](auto x_type, auto grad_type) {
      using X = decltype(x_type);
      using G = decltype(grad_type);
      const G* upstream = reinterpret_cast<const G*>(grad.data_ptr());
      const X* source = x.data_ptr<X>();
      const X* scale = weight.data_ptr<X>();
      const X* kept = inverse.data_ptr<X>();
      X* target = input_grad.data_ptr<X>();
      X* sums = partial.data_ptr<X>();
      at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
        for (int64_t block = first; block < last; ++block) {
          rms_norm_backward_rows(upstream, source, scale, kept, target, sums + block * width, width,
                                 block * per_block, std::min(rows, (block + 1) * per_block));
        }
      });
    });
    return {input_grad, partial.sum(0), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                       torch::ScalarType output_dtype) {
  const auto dtype = x.scalar_type();
  const bool served = x.device().is_cpu() && weight.device().is_cpu() && weight.scalar_type() == dtype &&
                      weight.dim() == 1 && weight.size(0) == x.size(-1) && x.numel() > 0 &&
                      ((dtype == torch::kFloat32 && (output_dtype == dtype || output_dtype == torch::kBFloat16)) ||
                       (dtype == torch::kFloat64 && output_dtype == dtype));
  if (!served) return rms_norm_by_formula(x, weight, eps, output_dtype);
  return RmsNorm::apply(x, weight, eps, static_cast<int64_t>(output_dtype));
}

}  // namespace infini
