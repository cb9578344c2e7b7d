#include "attention/gate_mix.h"

#include <ATen/Parallel.h>

#include <vector>

#include "core/vector_math.h"

namespace infini {

namespace {

torch::Tensor gate_mix_by_formula(const torch::Tensor& gate, const torch::Tensor& from_memory,
                                  const torch::Tensor& local) {
  const int64_t rows = local.size(0), heads = local.size(1), length = local.size(2), dim = local.size(3);
  auto g = torch::sigmoid(gate).to(from_memory.scalar_type()).view({1, heads, 1, 1});
  auto mixed = g * from_memory + (1 - g) * local;
  return mixed.transpose(1, 2).reshape({rows, length, heads * dim}).to(local.scalar_type());
}

// The layout: from_memory and local [rows, heads, length, d], out [rows, length, heads · d];
// output row i = (row, position) gathers `heads` rows of d.
struct Shape {
  int64_t heads, length, dim;
  int64_t input_row(int64_t i, int64_t h) const { return ((i / length * heads + h) * length + i % length) * dim; }
};

// Output rows [begin, end): out = g·m + (1 − g)·l, g = gates[h].
template <typename M, typename L, typename O>
INFINI_INLINE void forward_rows(const M* __restrict gates, const M* __restrict memory, const L* __restrict local,
                                O* __restrict out, Shape shape, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    for (int64_t h = 0; h < shape.heads; ++h) {
      const M* m = memory + shape.input_row(i, h);
      const L* l = local + shape.input_row(i, h);
      O* o = out + (i * shape.heads + h) * shape.dim;
      const M g = gates[h], rest = M(1) - g;
      for (int64_t j = 0; j < shape.dim; ++j) vec::store(o[j], g * m[j] + rest * vec::widen(l[j]));
    }
  }
}

// d m = g·d, d l = (1 − g)·d, and Σ d·(m − l) per head into `sums` (the gate's gradient before
// the sigmoid's derivative).
template <typename M, typename L, typename O>
INFINI_INLINE void backward_rows(const O* __restrict grad, const M* __restrict gates, const M* __restrict memory,
                                 const L* __restrict local, M* __restrict memory_grad, L* __restrict local_grad,
                                 M* __restrict sums, Shape shape, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    for (int64_t h = 0; h < shape.heads; ++h) {
      const int64_t at = shape.input_row(i, h);
      const O* d = grad + (i * shape.heads + h) * shape.dim;
      const M* m = memory + at;
      const L* l = local + at;
      const M g = gates[h], rest = M(1) - g;
      for (int64_t j = 0; j < shape.dim; ++j) {
        const M upstream = vec::widen(d[j]);
        memory_grad[at + j] = g * upstream;
        vec::store(local_grad[at + j], rest * upstream);
      }
      sums[h] += vec::sum<M>(shape.dim, [&](int64_t j) { return vec::widen(d[j]) * (m[j] - vec::widen(l[j])); });
    }
  }
}

#define INFINI_GATE_MIX_ROWS(M, L, O)                                                                      \
  INFINI_VECTOR_CLONES void gate_mix_rows(const M* gates, const M* memory, const L* local, O* out, Shape shape, \
                                          int64_t begin, int64_t end) {                                    \
    forward_rows(gates, memory, local, out, shape, begin, end);                                            \
  }                                                                                                        \
  INFINI_VECTOR_CLONES void gate_mix_backward_rows(const O* grad, const M* gates, const M* memory, const L* local, \
                                                   M* memory_grad, L* local_grad, M* sums, Shape shape,    \
                                                   int64_t begin, int64_t end) {                           \
    backward_rows(grad, gates, memory, local, memory_grad, local_grad, sums, shape, begin, end);           \
  }
INFINI_GATE_MIX_ROWS(float, float, float)
INFINI_GATE_MIX_ROWS(float, uint16_t, uint16_t)
INFINI_GATE_MIX_ROWS(double, double, double)
#undef INFINI_GATE_MIX_ROWS

// Calls body(memory, local/output) with the loops' element types: the memory's, and the local
// attention's, which is also the result's.
template <typename Body>
void dispatch(torch::ScalarType memory_dtype, torch::ScalarType local_dtype, Body&& body) {
  if (memory_dtype == torch::kFloat64) {
    body(double{}, double{});
  } else if (local_dtype == torch::kBFloat16) {
    body(float{}, uint16_t{});
  } else {
    body(float{}, float{});
  }
}

// Output rows per task: about 16K elements. The backward sums the gate's gradient per block of
// rows and then the blocks in order, so the result does not depend on the thread count.
int64_t block_rows(int64_t width) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, width)); }

struct GateMix : torch::autograd::Function<GateMix> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& gate,
                               const torch::Tensor& memory_input, const torch::Tensor& local_input) {
    const auto memory = memory_input.contiguous(), local = local_input.contiguous();
    const Shape shape{local.size(1), local.size(2), local.size(3)};
    const int64_t rows = local.size(0) * shape.length, width = shape.heads * shape.dim;
    const auto gates = torch::sigmoid(gate.detach()).to(memory.scalar_type()).contiguous();
    auto out = torch::empty({local.size(0), shape.length, width}, local.options());
    dispatch(memory.scalar_type(), local.scalar_type(), [&](auto memory_type, auto local_type) {
      using M = decltype(memory_type);
      using L = decltype(local_type);
      const M* g = gates.data_ptr<M>();
      const M* m = memory.data_ptr<M>();
      const L* l = reinterpret_cast<const L*>(local.data_ptr());
      L* target = reinterpret_cast<L*>(out.data_ptr());
      at::parallel_for(0, rows, block_rows(width), [&](int64_t begin, int64_t end) {
        gate_mix_rows(g, m, l, target, shape, begin, end);
      });
    });
    ctx->save_for_backward({gate, memory, local});
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &gate = saved[0], &memory = saved[1], &local = saved[2];
    const Shape shape{local.size(1), local.size(2), local.size(3)};
    const int64_t rows = local.size(0) * shape.length, width = shape.heads * shape.dim;
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradients through ATen's ops, with their graph
      auto upstream = grads[0].view({local.size(0), shape.length, shape.heads, shape.dim}).transpose(1, 2);
      auto g = torch::sigmoid(gate).to(memory.scalar_type());
      auto gate_grad = (upstream * (memory - local)).sum({0, 2, 3}) * g * (1 - g);
      auto g4 = g.view({1, shape.heads, 1, 1});
      return {gate_grad.to(gate.scalar_type()), upstream * g4, (upstream * (1 - g4)).to(local.scalar_type())};
    }
    const auto grad = grads[0].to(local.scalar_type()).contiguous();
    const auto gates = torch::sigmoid(gate).to(memory.scalar_type()).contiguous();
    auto memory_grad = torch::empty_like(memory), local_grad = torch::empty_like(local);
    const int64_t per_block = block_rows(width), blocks = (rows + per_block - 1) / per_block;
    auto partial = torch::zeros({blocks, shape.heads}, memory.options());
    dispatch(memory.scalar_type(), local.scalar_type(), [&](auto memory_type, auto local_type) {
      using M = decltype(memory_type);
      using L = decltype(local_type);
      const L* upstream = reinterpret_cast<const L*>(grad.data_ptr());
      const M* g = gates.data_ptr<M>();
      const M* m = memory.data_ptr<M>();
      const L* l = reinterpret_cast<const L*>(local.data_ptr());
      M* dm = memory_grad.data_ptr<M>();
      L* dl = reinterpret_cast<L*>(local_grad.data_ptr());
      M* sums = partial.data_ptr<M>();
      at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
        for (int64_t block = first; block < last; ++block) {
          gate_mix_backward_rows(upstream, g, m, l, dm, dl, sums + block * shape.heads, shape, block * per_block,
                                 std::min(rows, (block + 1) * per_block));
        }
      });
    });
    auto gate_grad = partial.sum(0) * gates * (1 - gates);
    return {gate_grad.to(gate.scalar_type()), memory_grad, local_grad};
  }
};

}  // namespace

torch::Tensor gate_mix(const torch::Tensor& gate, const torch::Tensor& from_memory, const torch::Tensor& local) {
  const auto memory_dtype = from_memory.scalar_type(), local_dtype = local.scalar_type();
  const bool cpu = gate.device().is_cpu() && from_memory.device().is_cpu() && local.device().is_cpu();
  const bool served = cpu && from_memory.sizes() == local.sizes() && local.dim() == 4 && local.numel() > 0 &&
                      gate.dim() == 1 && gate.size(0) == local.size(1) &&
                      ((memory_dtype == torch::kFloat32 &&
                        (local_dtype == torch::kFloat32 || local_dtype == torch::kBFloat16)) ||
                       (memory_dtype == torch::kFloat64 && local_dtype == torch::kFloat64));
  if (!served) return gate_mix_by_formula(gate, from_memory, local);
  return GateMix::apply(gate, from_memory, local);
}

}  // namespace infini
