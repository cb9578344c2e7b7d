// Elementwise pieces for the hand-written CPU loops (RoPE, SwiGLU, causal softmax, RMS norm, the
// memory's feature map, the gate's mix, the training loss): storage to
// compute precision and back, and an exponential, all in plain arithmetic that the compiler turns
// into vector instructions. A loop built from them goes in a function compiled once per
// instruction set (INFINI_VECTOR_CLONES) and chosen when the program loads, so the binary stays
// portable and runs AVX-512 or AVX2 code where the CPU has it.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#define INFINI_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define INFINI_INLINE __attribute__((always_inline)) inline

namespace infini::vec {

// bfloat16 as its bits, uint16_t (c10::BFloat16's conversions, and loops over its struct, do
// not vectorise): float's upper half, rounded to nearest even; a NaN stays a quiet NaN.
INFINI_INLINE float widen(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
INFINI_INLINE float widen(float v) { return v; }
INFINI_INLINE double widen(double v) { return v; }

INFINI_INLINE void store(uint16_t& to, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const auto rounded = static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
  to = f != f ? uint16_t{0x7FC0} : rounded;
}
INFINI_INLINE void store(float& to, float f) { to = f; }
INFINI_INLINE void store(double& to, double f) { to = f; }

// e^x in float within about 1 ulp (Cephes' expf: x = n·ln 2 + r, |r| ≤ ln 2 / 2, a polynomial in r,
// 2^n through the exponent bits); below e^−87 it returns 0, above e^88 it stays at e^88, NaN
// stays NaN. std::exp calls libm one element at a time.
INFINI_INLINE float exp(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // n = round(x / ln 2) by the float's own rounding: adding 1.5·2²³ leaves no fraction bits.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  x -= n * 0.693359375f;
  x -= n * -2.12194440e-4f;
  const float p =
      ((((((1.9875691500e-4f * x + 1.3981999507e-3f) * x + 8.3334519073e-3f) * x + 4.1665795894e-2f) * x +
         1.6666665459e-1f) * x + 5.0000001201e-1f) * x * x) + x + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
INFINI_INLINE double exp(double x) { return std::exp(x); }

// Σ term(j) and max term(j) over j in [0, n), kept in 16 running partials (a vector's worth):
// a loop into one accumulator does not vectorise without reassociation flags. The order of the
// sum differs from a plain loop's by floating-point reassociation only.
template <typename C, typename Term>
INFINI_INLINE C sum(int64_t n, Term&& term) {
  constexpr int64_t kLanes = 16;
  C partial[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) partial[k] += term(j + k);
  }
  for (; j < n; ++j) partial[0] += term(j);
  C total = 0;
  for (int64_t k = 0; k < kLanes; ++k) total += partial[k];
  return total;
}

template <typename C, typename Term>
INFINI_INLINE C maximum(int64_t n, Term&& term) {  // n ≥ 1
  // A vector type of its own: std::max (a comparison and a branch) does not vectorise without
  // -ffinite-math-only, a comparison of vectors does.
  constexpr int64_t kLanes = 64 / sizeof(C);
  typedef C Lanes __attribute__((vector_size(64)));
  Lanes partial = Lanes{} + term(0);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Lanes next;
    for (int64_t k = 0; k < kLanes; ++k) next[k] = term(j + k);
    partial = partial < next ? next : partial;
  }
  C largest = partial[0];
  for (int64_t k = 1; k < kLanes; ++k) largest = std::max(largest, partial[k]);
  for (; j < n; ++j) largest = std::max(largest, term(j));
  return largest;
}

// bfloat16 loops through float32 blocks. A loop that reads or writes bfloat16 while it computes
// in float32 mixes two element widths, and GCC then vectorises it at half width with shuffles:
// 3–6 times slower than the same loop in float32 (SwiGLU's forward: 2,100 against 375 µs on a
// [1024, 1376] tensor, one thread, AVX-512 EPYC). Widening a block into a float32 buffer,
// computing there, and rounding the block back keeps every loop at one width.
constexpr int64_t kStage = 256;  // elements per block: a few buffers of it stay in L1

INFINI_INLINE void widen_block(const uint16_t* __restrict from, float* __restrict to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = widen(from[i]);
}
INFINI_INLINE void store_block(const float* __restrict from, uint16_t* __restrict to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store(to[i], from[i]);
}

// How a loop sees a tensor's elements (bfloat16 as its bits) and what it computes them in: float
// for float and bfloat16, double for double.
template <typename T>
using Storage = std::conditional_t<std::is_same_v<T, c10::BFloat16>, uint16_t, T>;
template <typename T>
using Compute = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Whether the loops serve this tensor: on the CPU, in float32, float64 or bfloat16.
inline bool loops_serve(const at::Tensor& t) {
  const auto dtype = t.scalar_type();
  return t.device().is_cpu() && (dtype == at::kFloat || dtype == at::kDouble || dtype == at::kBFloat16);
}

// A tensor's elements as the loops see them.
template <typename T>
Storage<T>* elements(T* data) {
  return reinterpret_cast<Storage<T>*>(data);
}
template <typename T>
const Storage<T>* elements(const T* data) {
  return reinterpret_cast<const Storage<T>*>(data);
}

}  // namespace infini::vec
