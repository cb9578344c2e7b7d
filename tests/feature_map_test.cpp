// The memory's feature map σ = ELU + 1 in one pass against ATen's elu, values and gradients.
#include <gtest/gtest.h>

#include "attention/feature_map.h"
#include "test_support.h"

using namespace infini;

namespace {

// Heads as attention hands them: a transposed view of a projection's columns, [rows, heads, length, d].
torch::Tensor heads_view(const torch::Tensor& projected, int64_t heads) {
  return projected.view({projected.size(0), projected.size(1), heads, -1}).transpose(1, 2);
}

}  // namespace

TEST(FeatureMap, EqualsEluPlusOneAndItsGradientsInFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(31);
  auto projected = (torch::randn({2, 9, 3 * 13}, torch::kFloat64) * 4).requires_grad_(true);
  auto x = heads_view(projected, 3);
  auto got = elu_plus_one(x, torch::kFloat64);
  auto want = torch::elu(x) + 1;
  EXPECT_TRUE(got.is_contiguous());
  EXPECT_LT(test::largest_difference(got, want), 1e-15);

  auto upstream = torch::randn_like(want);
  auto grad_got = torch::autograd::grad({(got * upstream).sum()}, {projected}, {}, true, true)[0];
  auto grad_want = torch::autograd::grad({(want * upstream).sum()}, {projected}, {}, true, true)[0];
  EXPECT_LT(test::largest_difference(grad_got, grad_want), 1e-15);
  auto weights = torch::randn_like(projected);
  auto second_got = torch::autograd::grad({(grad_got * weights).sum()}, {projected})[0];
  auto second_want = torch::autograd::grad({(grad_want * weights).sum()}, {projected})[0];
  EXPECT_LT(test::largest_difference(second_got, second_want), 1e-15);
}

TEST(FeatureMap, Bfloat16AndFloat32InputsGiveFloat32WithinItsRounding) {
  test::TwoThreads threads;
  torch::manual_seed(32);
  auto exact_projected = torch::randn({4, 256, 3 * 256}, torch::kFloat64) * 3;
  auto upstream = torch::randn({4, 4, 256, 64}, torch::kFloat64);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto projected = exact_projected.to(dtype).requires_grad_(true);
    auto x = heads_view(projected.narrow(-1, 256, 256), 4);  // the keys' columns
    auto got = elu_plus_one(x, torch::kFloat32);
    EXPECT_EQ(got.scalar_type(), torch::kFloat32);
    // On the inputs as stored: the exponential within a few float32 ulps.
    auto on_inputs = x.detach().to(torch::kFloat64);
    auto want = torch::elu(on_inputs) + 1;
    EXPECT_LE(((got.to(torch::kFloat64) - want).abs() - 4e-7 * want.abs()).max().item<double>(), 0.0);

    auto grad = torch::autograd::grad({(got * upstream.to(torch::kFloat32)).sum()}, {projected})[0];
    EXPECT_EQ(grad.scalar_type(), dtype);
    auto want_grad = upstream * torch::where(on_inputs > 0, torch::ones_like(on_inputs), torch::exp(on_inputs));
    auto grad_heads = heads_view(grad.narrow(-1, 256, 256), 4).to(torch::kFloat64);
    // One rounding to the input's dtype (2⁻⁸ relative in bfloat16) after float32 arithmetic.
    const double ulp = dtype == torch::kBFloat16 ? std::ldexp(1.0, -8) : 1e-6;
    EXPECT_LE(((grad_heads - want_grad).abs() - ulp * want_grad.abs()).max().item<double>(), 1e-6);
    EXPECT_EQ(grad.narrow(-1, 0, 256).abs().max().item<double>(), 0.0);  // the other columns get nothing
  }
}
