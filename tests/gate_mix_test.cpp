// Eq. 10's gated mix in one pass against the formula through ATen, values and gradients.
#include <gtest/gtest.h>

#include "attention/gate_mix.h"
#include "test_support.h"

using namespace infini;

namespace {

// g·A_mem + (1 − g)·A_dot, heads side by side: [rows, length, heads · d].
torch::Tensor mix_formula(const torch::Tensor& gate, const torch::Tensor& from_memory, const torch::Tensor& local) {
  auto g = torch::sigmoid(gate).view({1, -1, 1, 1});
  auto mixed = g * from_memory + (1 - g) * local;
  return mixed.transpose(1, 2).reshape({local.size(0), local.size(2), -1});
}

}  // namespace

TEST(GateMix, EqualsTheFormulaAndItsGradientsInFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(41);
  auto gate = (torch::randn({3}, torch::kFloat64) * 2).requires_grad_(true);
  auto from_memory = torch::randn({5, 3, 11, 7}, torch::kFloat64).requires_grad_(true);
  auto local = torch::randn({5, 3, 11, 7}, torch::kFloat64).requires_grad_(true);
  auto got = gate_mix(gate, from_memory, local);
  auto want = mix_formula(gate, from_memory, local);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LT(test::largest_difference(got, want), 1e-15);

  auto upstream = torch::randn_like(want);
  auto grad_got = torch::autograd::grad({(got * upstream).sum()}, {gate, from_memory, local}, {}, true, true);
  auto grad_want = torch::autograd::grad({(want * upstream).sum()}, {gate, from_memory, local}, {}, true, true);
  for (int i = 0; i < 3; ++i) EXPECT_LT(test::relative_difference(grad_got[i], grad_want[i]), 1e-14) << i;
  // A backward that builds a graph: second derivatives as ATen's.
  auto probe = [&](const torch::autograd::variable_list& g) {
    return g[0].sum() * 3 + (g[1] * local.detach()).sum() + (g[2] * from_memory.detach()).sum();
  };
  auto second_got = torch::autograd::grad({probe(grad_got)}, {gate, from_memory, local}, {}, false, true);
  auto second_want = torch::autograd::grad({probe(grad_want)}, {gate, from_memory, local}, {}, false, true);
  for (int i = 0; i < 3; ++i) EXPECT_LT(test::relative_difference(second_got[i], second_want[i]), 1e-13) << i;
}

TEST(GateMix, Bfloat16LocalAttentionGivesTheRoundedFloat32Mix) {
  test::TwoThreads threads;
  torch::manual_seed(42);
  // Issue 15's layer under autocast: the memory's read in float32, local attention in bfloat16.
  auto gate32 = (torch::randn({4}) * 2).requires_grad_(true);
  auto memory32 = torch::randn({4, 4, 256, 64}).requires_grad_(true);
  auto local16 = torch::randn({4, 4, 256, 64}).to(torch::kBFloat16).requires_grad_(true);
  auto upstream16 = torch::randn({4, 256, 256}).to(torch::kBFloat16);
  auto got = gate_mix(gate32, memory32, local16);
  EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
  auto grads = torch::autograd::grad({(got.to(torch::kFloat32) * upstream16.to(torch::kFloat32)).sum()},
                                     {gate32, memory32, local16});
  EXPECT_EQ(grads[2].scalar_type(), torch::kBFloat16);

  auto gate = gate32.detach().to(torch::kFloat64).requires_grad_(true);
  auto memory = memory32.detach().to(torch::kFloat64).requires_grad_(true);
  auto local = local16.detach().to(torch::kFloat64).requires_grad_(true);
  auto want = mix_formula(gate, memory, local);
  auto want_grads = torch::autograd::grad({(want * upstream16.to(torch::kFloat64)).sum()}, {gate, memory, local});
  // One rounding to bfloat16 after float32 arithmetic: within half an ulp (2⁻⁸ relative).
  auto half_ulp = [](const torch::Tensor& got, const torch::Tensor& want) {
    return ((got.to(torch::kFloat64) - want).abs() - std::ldexp(1.0, -8) * want.abs()).max().item<double>();
  };
  EXPECT_LE(half_ulp(got, want.detach()), 1e-6);
  EXPECT_LE(half_ulp(grads[2], want_grads[2]), 1e-6);
  EXPECT_LT(test::relative_difference(grads[1], want_grads[1]), 1e-6);
  EXPECT_LT(test::relative_difference(grads[0], want_grads[0]), 1e-5);
}
