#include "attention/rope.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "core/vector_math.h"

namespace infini {

namespace {

// cos and sin of each position's angles, [length, head_dim / 2], in `dtype`. Angles in float64:
// positions reach 10^6 for `full` attention over long documents, where float32 products would
// lose the low bits of the phase.
std::pair<torch::Tensor, torch::Tensor> rotation_table(int64_t first_position, int64_t length, int64_t dim,
                                                       double theta, torch::ScalarType dtype,
                                                       const torch::Device& device) {
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  auto inv_freq = torch::pow(theta, -torch::arange(0, dim, 2, f64) / static_cast<double>(dim));
  auto angles = torch::outer(torch::arange(first_position, first_position + length, f64), inv_freq);
  return {angles.cos().to(dtype), angles.sin().to(dtype)};
}

// The same table for every layer of a segment, and for every segment of local and infini
// attention (positions from 0): the last few are kept, per thread, while small.
std::pair<torch::Tensor, torch::Tensor> cached_rotation_table(int64_t first_position, int64_t length, int64_t dim,
                                                              double theta, torch::ScalarType dtype,
                                                              const torch::Device& device) {
  struct Entry {
    int64_t first_position, length, dim;
    double theta;
    torch::ScalarType dtype;
    torch::Device device;
    std::pair<torch::Tensor, torch::Tensor> table;
  };
  thread_local std::vector<Entry> recent;
  for (const auto& e : recent) {
    if (e.first_position == first_position && e.length == length && e.dim == dim && e.theta == theta &&
        e.dtype == dtype && e.device == device) {
      return e.table;
    }
  }
  std::pair<torch::Tensor, torch::Tensor> table;
  {
    // Made as normal tensors even while scoring: a table made under inference mode could not be
    // saved for a later training step's backward on this thread (validation, then training).
    c10::InferenceMode normal(false);
    table = rotation_table(first_position, length, dim, theta, dtype, device);
  }
  if (length * dim <= (1 << 20)) {
    if (recent.size() == 4) recent.erase(recent.begin());
    recent.push_back({first_position, length, dim, theta, dtype, device, table});
  }
  return table;
}

// The textbook form through ATen ops, for devices the loop below does not serve.
torch::Tensor rotate_by_formula(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  auto c = torch::cat({cos, cos}, -1), s = torch::cat({sin, sin}, -1);
  auto halves = x.chunk(2, -1);
  return x * c + torch::cat({-halves[1], halves[0]}, -1) * s;
}

// One row of channels: out_i = x_i·c − x_{i+h}·s and out_{i+h} = x_{i+h}·c + x_i·s.
template <typename T, typename Table>
INFINI_INLINE void rotate_row(const T* __restrict in, T* __restrict out, const Table* __restrict c,
                              const Table* __restrict s, Table sign, int64_t half) {
  for (int64_t i = 0; i < half; ++i) {
    const Table a = vec::widen(in[i]), b = vec::widen(in[i + half]);
    const Table sine = sign * s[i];
    vec::store(out[i], a * c[i] - b * sine);
    vec::store(out[i + half], b * c[i] + a * sine);
  }
}

// Rows [begin, end) of x laid out [items, heads, length, 2·half] with strides s0..s2 into a
// contiguous result, compiled once per instruction set.
template <typename T, typename Table>
INFINI_INLINE void rotate_rows(const T* x, T* out, const Table* cos, const Table* sin, Table sign, int64_t heads,
                               int64_t length, int64_t half, const int64_t* strides, int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t position = row % length, head = row / length % heads, item = row / (length * heads);
    rotate_row(x + item * strides[0] + head * strides[1] + position * strides[2], out + row * 2 * half,
               cos + position * half, sin + position * half, sign, half);
  }
}

#define INFINI_ROTATE_ROWS(T, Table)                                                                      \
  INFINI_VECTOR_CLONES void rotate_rows_of(const T* x, T* out, const Table* cos, const Table* sin, Table sign, \
                                           int64_t heads, int64_t length, int64_t half, const int64_t* strides, \
                                           int64_t begin, int64_t end) {                                     \
    rotate_rows(x, out, cos, sin, sign, heads, length, half, strides, begin, end);                          \
  }
INFINI_ROTATE_ROWS(float, float)
INFINI_ROTATE_ROWS(double, double)
INFINI_ROTATE_ROWS(uint16_t, float)  // bfloat16
#undef INFINI_ROTATE_ROWS

// One pass over x (any strides, channels contiguous) into a contiguous result, in the table's
// precision. With `inverse` the rotation goes back (s → −s): the gradient of a rotation is its
// inverse.
torch::Tensor rotate(const torch::Tensor& input, const torch::Tensor& cos, const torch::Tensor& sin, bool inverse) {
  const auto x = input.stride(3) == 1 ? input : input.contiguous();
  auto out = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
  const int64_t heads = x.size(1), length = x.size(2), half = x.size(3) / 2;
  const int64_t rows = x.size(0) * heads * length;
  const int64_t strides[3] = {x.stride(0), x.stride(1), x.stride(2)};
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "rope", [&] {
    using Table = vec::Compute<scalar_t>;
    const auto* source = vec::elements(x.data_ptr<scalar_t>());
    auto* target = vec::elements(out.data_ptr<scalar_t>());
    const auto* cos_data = cos.data_ptr<Table>();
    const auto* sin_data = sin.data_ptr<Table>();
    const Table sign = inverse ? -1 : 1;
    at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
      rotate_rows_of(source, target, cos_data, sin_data, sign, heads, length, half, strides, begin, end);
    });
  });
  return out;
}

struct Rotation : torch::autograd::Function<Rotation> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin, bool inverse) {
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["inverse"] = inverse;
    return rotate(x, cos, sin, inverse);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    // Through the function again, so a backward that builds a graph (create_graph) gets one.
    auto grad = Rotation::apply(grads[0], saved[0], saved[1], !ctx->saved_data["inverse"].toBool());
    return {grad, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor apply_rope(const torch::Tensor& x, int64_t first_position, double theta) {
  const auto dtype = x.scalar_type();
  const bool by_loop = vec::loops_serve(x) && x.size(3) % 2 == 0;
  // The loop keeps its table in float32 for bfloat16 (one rounding, at the end); ATen's ops
  // round each product to the tensor's dtype.
  const auto table_dtype = by_loop && dtype == torch::kBFloat16 ? torch::kFloat32 : dtype;
  auto [cos, sin] = cached_rotation_table(first_position, x.size(2), x.size(3), theta, table_dtype, x.device());
  if (!by_loop) return rotate_by_formula(x, cos, sin);
  return Rotation::apply(x, cos, sin, false);
}

}  // namespace infini
