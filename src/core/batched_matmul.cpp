#include "core/batched_matmul.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include "core/torch_compat.h"

namespace infini {

namespace {

// Matrix `index` of a stack (leading dimensions in row-major order), as a view.
torch::Tensor matrix(const torch::Tensor& stack, int64_t index) {
  int64_t offset = stack.storage_offset();
  for (int64_t d = stack.dim() - 3; d >= 0; --d) {
    offset += (index % stack.size(d)) * stack.stride(d);
    index /= stack.size(d);
  }
  return stack.as_strided({stack.size(-2), stack.size(-1)}, {stack.stride(-2), stack.stride(-1)}, offset);
}

// The products without autograd: a contiguous result, its matrices shared out among the threads.
// Inside a parallel region OpenBLAS multiplies on the calling thread alone. The other threads
// take on this one's autograd and inference-mode settings (ATen 1.13's parallel_for does not).
torch::Tensor per_thread_products(const torch::Tensor& a, const torch::Tensor& b) {
  auto sizes = a.sizes().vec();
  sizes.back() = b.size(-1);
  auto out = torch::empty(sizes, a.options());
  if (a.size(-1) == 0) return out.zero_();  // empty sums
  int64_t count = 1;
  for (int64_t d = 0; d < a.dim() - 2; ++d) count *= a.size(d);
  const at::ThreadLocalState caller;
  at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
    const at::ThreadLocalStateGuard settings(caller);
    for (int64_t i = begin; i < end; ++i) {
      auto product = matrix(out, i);
      at::mm_out(product, matrix(a, i), matrix(b, i));
    }
  });
  return out;
}

struct BatchedMatmul : torch::autograd::Function<BatchedMatmul> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    return per_thread_products(a, b);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& a = saved[0];
    const auto& b = saved[1];
    const auto& grad = grads[0];
    torch::Tensor grad_a, grad_b;
    // Through batched_matmul itself, so a backward that builds a graph (create_graph) gets one.
    if (ctx->needs_input_grad(0)) grad_a = batched_matmul(grad, b.transpose(-1, -2));  // dL/dA = G·Bᵀ
    if (ctx->needs_input_grad(1)) grad_b = batched_matmul(a.transpose(-1, -2), grad);  // dL/dB = Aᵀ·G
    return {grad_a, grad_b};
  }
};

bool one_matrix_per_thread(const torch::Tensor& a, const torch::Tensor& b) {
  const auto dtype = a.scalar_type();
  return a.dim() >= 3 && a.dim() == b.dim() && a.device().is_cpu() && b.device().is_cpu() &&
         (dtype == torch::kFloat32 || dtype == torch::kFloat64) && b.scalar_type() == dtype &&
         !compat::autocast_enabled(c10::DeviceType::CPU) &&
         a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2) && a.size(-1) == b.size(-2);
}

}  // namespace

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (!one_matrix_per_thread(a, b)) return torch::matmul(a, b);
  if (torch::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad())) return BatchedMatmul::apply(a, b);
  return per_thread_products(a, b);
}

}  // namespace infini
