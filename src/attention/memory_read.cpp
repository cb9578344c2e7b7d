#include "attention/memory_read.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include "core/batched_matmul.h"
#include "core/vector_math.h"

namespace infini {

namespace {

// The plain form: ATen's ops, with their graph (other devices and dtypes, create_graph).
torch::Tensor read_through_aten(const torch::Tensor& matrix, const torch::Tensor& normalizer,
                                const torch::Tensor& sigma_q, double eps) {
  auto numerator = batched_matmul(sigma_q, matrix);                               // σ(Q)·M
  auto denominator = torch::matmul(sigma_q, normalizer.unsqueeze(-1)) + eps;      // σ(Q)·z + ε
  return numerator / denominator;                                                 // Eq. 7
}

// One head forward: out holds σ(Q)·M ([rows, width]) and becomes A; den gets σ(Q)·z + ε.
template <typename T>
INFINI_INLINE void divide_rows(const T* __restrict q, const T* __restrict z, T* __restrict out, T* __restrict den,
                               int64_t rows, int64_t d_key, int64_t width, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* qr = q + r * d_key;
    T sum = 0;
    for (int64_t j = 0; j < d_key; ++j) sum += qr[j] * z[j];
    const T denominator = sum + static_cast<T>(eps);
    den[r] = denominator;
    T* o = out + r * width;
    for (int64_t j = 0; j < width; ++j) o[j] = o[j] / denominator;
  }
}

// One head backward, before the products: Gₙ = G / den and g_den = −Σⱼ G·A / den by rows.
template <typename T>
INFINI_INLINE void scale_rows(const T* __restrict grad, const T* __restrict out, const T* __restrict den,
                              T* __restrict grad_n, T* __restrict grad_den, int64_t rows, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = grad + r * width;
    const T* a = out + r * width;
    T* n = grad_n + r * width;
    T dot = 0;
    for (int64_t j = 0; j < width; ++j) dot += g[j] * a[j];
    grad_den[r] = -dot / den[r];
    for (int64_t j = 0; j < width; ++j) n[j] = g[j] / den[r];
  }
}

// g_σ(Q) += g_den ⊗ z (rows of grad_q), and g_z = σ(Q)ᵀ·g_den.
template <typename T>
INFINI_INLINE void add_outer(const T* __restrict grad_den, const T* __restrict z, T* __restrict grad_q, int64_t rows,
                             int64_t d_key) {
  for (int64_t r = 0; r < rows; ++r) {
    T* g = grad_q + r * d_key;
    for (int64_t j = 0; j < d_key; ++j) g[j] += grad_den[r] * z[j];
  }
}
template <typename T>
INFINI_INLINE void weighted_row_sum(const T* __restrict q, const T* __restrict grad_den, T* __restrict grad_z,
                                    int64_t rows, int64_t d_key) {
  for (int64_t j = 0; j < d_key; ++j) grad_z[j] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* qr = q + r * d_key;
    for (int64_t j = 0; j < d_key; ++j) grad_z[j] += qr[j] * grad_den[r];
  }
}

#define INFINI_MEMORY_READ_ROWS(T)                                                                                \
  INFINI_VECTOR_CLONES void read_rows(const T* q, const T* z, T* out, T* den, int64_t rows, int64_t d_key,        \
                                      int64_t width, double eps) {                                                 \
    divide_rows(q, z, out, den, rows, d_key, width, eps);                                                          \
  }                                                                                                                \
  INFINI_VECTOR_CLONES void read_backward_rows(const T* grad, const T* out, const T* den, T* grad_n, T* grad_den, \
                                               int64_t rows, int64_t width) {                                     \
    scale_rows(grad, out, den, grad_n, grad_den, rows, width);                                                     \
  }                                                                                                                \
  INFINI_VECTOR_CLONES void denominator_to_q(const T* grad_den, const T* z, T* grad_q, int64_t rows,              \
                                             int64_t d_key) {                                                      \
    add_outer(grad_den, z, grad_q, rows, d_key);                                                                   \
  }                                                                                                                \
  INFINI_VECTOR_CLONES void denominator_to_z(const T* q, const T* grad_den, T* grad_z, int64_t rows,              \
                                             int64_t d_key) {                                                      \
    weighted_row_sum(q, grad_den, grad_z, rows, d_key);                                                            \
  }
INFINI_MEMORY_READ_ROWS(float)
INFINI_MEMORY_READ_ROWS(double)
#undef INFINI_MEMORY_READ_ROWS

// Calls body(T{}) with the element type of `dtype` (float32 or float64).
template <typename Body>
void dispatch(torch::ScalarType dtype, Body&& body) {
  if (dtype == torch::kFloat64) {
    body(double{});
  } else {
    body(float{});
  }
}

// Heads [begin, end) on the threads: body(head) with the caller's autograd settings.
template <typename Body>
void for_each_head(int64_t heads, Body&& body) {
  const at::ThreadLocalState caller;
  at::parallel_for(0, heads, 1, [&](int64_t begin, int64_t end) {
    const at::ThreadLocalStateGuard settings(caller);
    for (int64_t h = begin; h < end; ++h) body(h);
  });
}

struct Read {
  torch::Tensor out, den;  // A: [..., rows, d_value]; σ(Q)·z + ε: [..., rows]
};

Read read_per_head(const torch::Tensor& matrix, const torch::Tensor& normalizer, const torch::Tensor& sigma_q,
                   double eps) {
  const auto m = matrix.contiguous(), z = normalizer.contiguous(), q = sigma_q.contiguous();
  const int64_t rows = q.size(-2), d_key = q.size(-1), width = m.size(-1);
  const int64_t heads = q.numel() / std::max<int64_t>(1, rows * d_key);
  auto out_sizes = q.sizes().vec();
  out_sizes.back() = width;
  Read read{torch::empty(out_sizes, q.options()), torch::empty(q.sizes().slice(0, q.dim() - 1), q.options())};
  const auto m3 = m.view({heads, d_key, width}), q3 = q.view({heads, rows, d_key});
  auto out3 = read.out.view({heads, rows, width});
  dispatch(q.scalar_type(), [&](auto type) {
    using T = decltype(type);
    for_each_head(heads, [&](int64_t h) {
      auto out_h = out3[h];
      at::mm_out(out_h, q3[h], m3[h]);
      read_rows(q.data_ptr<T>() + h * rows * d_key, z.data_ptr<T>() + h * d_key, out_h.data_ptr<T>(),
                read.den.data_ptr<T>() + h * rows, rows, d_key, width, eps);
    });
  });
  return read;
}

struct MemoryRead : torch::autograd::Function<MemoryRead> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& matrix,
                               const torch::Tensor& normalizer, const torch::Tensor& sigma_q, double eps) {
    auto read = read_per_head(matrix, normalizer, sigma_q, eps);
    ctx->save_for_backward({matrix, normalizer, sigma_q, read.out});
    ctx->saved_data["den"] = read.den;
    ctx->saved_data["eps"] = eps;
    return read.out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const bool want_m = ctx->needs_input_grad(0), want_z = ctx->needs_input_grad(1), want_q = ctx->needs_input_grad(2);
    if (torch::GradMode::is_enabled()) {  // create_graph: the same gradients through ATen's ops, with their graph
      auto grad_m = torch::Tensor(), grad_z = torch::Tensor(), grad_q = torch::Tensor();
      const auto& m = saved[0];
      const auto& z = saved[1];
      const auto& q = saved[2];
      auto den = torch::matmul(q, z.unsqueeze(-1)) + ctx->saved_data["eps"].toDouble();
      auto out = torch::matmul(q, m) / den;
      auto grad_n = grads[0] / den;
      auto grad_den = -(grads[0] * out).sum(-1, true) / den;
      if (want_q) grad_q = torch::matmul(grad_n, m.transpose(-1, -2)) + grad_den * z.unsqueeze(-2);
      if (want_m) grad_m = torch::matmul(q.transpose(-1, -2), grad_n);
      if (want_z) grad_z = (q * grad_den).sum(-2);
      return {grad_m, grad_z, grad_q, torch::Tensor()};
    }
    const auto m = saved[0].contiguous(), z = saved[1].contiguous(), q = saved[2].contiguous();
    const auto out = saved[3];
    const auto den = ctx->saved_data["den"].toTensor();
    const auto grad = grads[0].to(out.scalar_type()).contiguous();
    const int64_t rows = q.size(-2), d_key = q.size(-1), width = m.size(-1);
    const int64_t heads = q.numel() / std::max<int64_t>(1, rows * d_key);
    auto grad_m = want_m ? torch::empty_like(m) : torch::Tensor();
    auto grad_z = want_z ? torch::empty_like(z) : torch::Tensor();
    auto grad_q = want_q ? torch::empty_like(q) : torch::Tensor();
    const auto m3 = m.view({heads, d_key, width}), q3 = q.view({heads, rows, d_key});
    const auto grad_q3 = want_q ? grad_q.view({heads, rows, d_key}) : torch::Tensor();
    const auto grad_m3 = want_m ? grad_m.view({heads, d_key, width}) : torch::Tensor();
    dispatch(q.scalar_type(), [&](auto type) {
      using T = decltype(type);
      for_each_head(heads, [&](int64_t h) {
        auto grad_n = torch::empty({rows, width}, q.options());
        auto grad_den = torch::empty({rows}, q.options());
        read_backward_rows(grad.data_ptr<T>() + h * rows * width, out.data_ptr<T>() + h * rows * width,
                           den.data_ptr<T>() + h * rows, grad_n.data_ptr<T>(), grad_den.data_ptr<T>(), rows, width);
        if (want_q) {
          auto grad_q_h = grad_q3[h];
          at::mm_out(grad_q_h, grad_n, m3[h].t());  // Gₙ·Mᵀ
          denominator_to_q(grad_den.data_ptr<T>(), z.data_ptr<T>() + h * d_key, grad_q_h.data_ptr<T>(), rows, d_key);
        }
        if (want_m) {
          auto grad_m_h = grad_m3[h];
          at::mm_out(grad_m_h, q3[h].t(), grad_n);  // σ(Q)ᵀ·Gₙ
        }
        if (want_z) {
          denominator_to_z(q.data_ptr<T>() + h * rows * d_key, grad_den.data_ptr<T>(), grad_z.data_ptr<T>() + h * d_key,
                           rows, d_key);
        }
      });
    });
    return {grad_m, grad_z, grad_q, torch::Tensor()};
  }
};

bool served(const torch::Tensor& matrix, const torch::Tensor& normalizer, const torch::Tensor& sigma_q) {
  const auto dtype = sigma_q.scalar_type();
  if (!(dtype == torch::kFloat32 || dtype == torch::kFloat64) || matrix.scalar_type() != dtype ||
      normalizer.scalar_type() != dtype) {
    return false;
  }
  if (!matrix.device().is_cpu() || !normalizer.device().is_cpu() || !sigma_q.device().is_cpu()) return false;
  const int64_t dims = matrix.dim();
  if (dims < 2 || sigma_q.dim() != dims || normalizer.dim() != dims - 1) return false;
  const auto leading = matrix.sizes().slice(0, dims - 2);
  return sigma_q.sizes().slice(0, dims - 2) == leading && normalizer.sizes().slice(0, dims - 2) == leading &&
         sigma_q.size(-1) == matrix.size(-2) && normalizer.size(-1) == matrix.size(-2) && sigma_q.numel() > 0 &&
         matrix.numel() > 0;
}

}  // namespace

torch::Tensor memory_read(const torch::Tensor& matrix, const torch::Tensor& normalizer, const torch::Tensor& sigma_q,
                          double eps) {
  if (!served(matrix, normalizer, sigma_q)) return read_through_aten(matrix, normalizer, sigma_q, eps);
  const bool tracked = torch::GradMode::is_enabled() &&
                       (matrix.requires_grad() || normalizer.requires_grad() || sigma_q.requires_grad());
  if (tracked) return MemoryRead::apply(matrix, normalizer, sigma_q, eps);
  return read_per_head(matrix, normalizer, sigma_q, eps).out;
}

}  // namespace infini
