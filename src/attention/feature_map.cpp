#include "attention/feature_map.h"

#include <ATen/Parallel.h>

#include <vector>

#include "core/vector_math.h"

namespace infini {

namespace {

// Rows [begin, end) of `width` elements: row r starts at offsets[r] in x; out is contiguous.
template <typename X, typename O>
INFINI_INLINE void forward_rows(const X* __restrict x, const int64_t* __restrict offsets, O* __restrict out,
                                int64_t width, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const X* in = x + offsets[row];
    O* o = out + row * width;
    if constexpr (std::is_same_v<X, uint16_t>) {  // widened first: one element width per loop (vec::widen_block)
      vec::widen_block(in, o, width);
      for (int64_t j = 0; j < width; ++j) o[j] = o[j] > O(0) ? o[j] + O(1) : vec::exp(o[j]);
    } else {
      for (int64_t j = 0; j < width; ++j) o[j] = in[j] > X(0) ? in[j] + X(1) : vec::exp(in[j]);
    }
  }
}

// dx = d·min(σ, 1), contiguous, in x's dtype.
template <typename X, typename O>
INFINI_INLINE void backward_rows(const O* __restrict grad, const O* __restrict sigma, X* __restrict out,
                                 int64_t count) {
  for (int64_t i = 0; i < count; ++i) vec::store(out[i], grad[i] * (sigma[i] < O(1) ? sigma[i] : O(1)));
}

#define INFINI_FEATURE_MAP_ROWS(X, O)                                                                      \
  INFINI_VECTOR_CLONES void feature_rows(const X* x, const int64_t* offsets, O* out, int64_t width,       \
                                         int64_t begin, int64_t end) {                                    \
    forward_rows(x, offsets, out, width, begin, end);                                                     \
  }                                                                                                       \
  INFINI_VECTOR_CLONES void feature_backward(const O* grad, const O* sigma, X* out, int64_t count) {      \
    backward_rows(grad, sigma, out, count);                                                               \
  }
INFINI_FEATURE_MAP_ROWS(float, float)
INFINI_FEATURE_MAP_ROWS(uint16_t, float)
INFINI_FEATURE_MAP_ROWS(double, double)
#undef INFINI_FEATURE_MAP_ROWS

// Where each row of the last dimension starts in x's storage (in elements), in row-major order of
// the leading dimensions.
std::vector<int64_t> row_offsets(const torch::Tensor& x) {
  const int64_t dims = x.dim() - 1, rows = x.numel() / x.size(-1);
  std::vector<int64_t> offsets(rows), index(dims, 0);
  int64_t offset = 0;
  for (int64_t row = 0; row < rows; ++row) {
    offsets[row] = offset;
    for (int64_t d = dims - 1; d >= 0; --d) {  // the next index, last dimension first
      offset += x.stride(d);
      if (++index[d] < x.size(d)) break;
      offset -= x.stride(d) * x.size(d);
      index[d] = 0;
    }
  }
  return offsets;
}

// Calls body(x, out) with the loops' element types for x's dtype and the result's.
template <typename Body>
void dispatch(torch::ScalarType x_dtype, Body&& body) {
  if (x_dtype == torch::kFloat64) {
    body(double{}, double{});
  } else if (x_dtype == torch::kBFloat16) {
    body(uint16_t{}, float{});
  } else {
    body(float{}, float{});
  }
}

// Elements per task: about 16K.
constexpr int64_t kGrain = 1 << 14;

struct EluPlusOne : torch::autograd::Function<EluPlusOne> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, int64_t dtype) {
    const auto x = input.stride(-1) == 1 ? input : input.contiguous();
    const int64_t width = x.size(-1), rows = x.numel() / width;
    const auto offsets = row_offsets(x);
    auto out = torch::empty(x.sizes(), x.options().dtype(static_cast<torch::ScalarType>(dtype)));
    dispatch(x.scalar_type(), [&](auto x_type, auto out_type) {
      using X = decltype(x_type);
      using O = decltype(out_type);
      const X* source = reinterpret_cast<const X*>(x.data_ptr());
      O* target = out.data_ptr<O>();
      at::parallel_for(0, rows, std::max<int64_t>(1, kGrain / width), [&](int64_t begin, int64_t end) {
        feature_rows(source, offsets.data(), target, width, begin, end);
      });
    });
    ctx->save_for_backward({out});
    ctx->saved_data["input_dtype"] = static_cast<int64_t>(x.scalar_type());
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto sigma = ctx->get_saved_variables()[0];
    const auto input_dtype = static_cast<torch::ScalarType>(ctx->saved_data["input_dtype"].toInt());
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradient through ATen's ops, with its graph
      return {(grads[0] * sigma.clamp_max(1.0)).to(input_dtype), torch::Tensor()};
    }
    const auto grad = grads[0].to(sigma.scalar_type()).contiguous();
    auto out = torch::empty(sigma.sizes(), sigma.options().dtype(input_dtype));
    dispatch(input_dtype, [&](auto x_type, auto out_type) {
      using X = decltype(x_type);
      using O = decltype(out_type);
      const O* upstream = grad.data_ptr<O>();
      const O* saved = sigma.data_ptr<O>();
      X* target = reinterpret_cast<X*>(out.data_ptr());
      at::parallel_for(0, sigma.numel(), kGrain, [&](int64_t begin, int64_t end) {
        feature_backward(upstream + begin, saved + begin, target + begin, end - begin);
      });
    });
    return {out, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor elu_plus_one(const torch::Tensor& x, torch::ScalarType dtype) {
  const auto from = x.scalar_type();
  const bool served = x.device().is_cpu() && x.dim() >= 1 && x.numel() > 0 &&
                      ((dtype == torch::kFloat32 && (from == torch::kFloat32 || from == torch::kBFloat16)) ||
                       (dtype == torch::kFloat64 && from == torch::kFloat64));
  if (!served) return (torch::elu(x.to(dtype)) + 1.0).contiguous();
  return EluPlusOne::apply(x, static_cast<int64_t>(dtype));
}

}  // namespace infini
