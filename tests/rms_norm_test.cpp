// The one-pass RMS norm against its formula through ATen, values and gradients.
#include <gtest/gtest.h>

#include "core/rms_norm.h"
#include "test_support.h"

using namespace infini;

namespace {

torch::Tensor rms_norm_formula(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return weight * (x * torch::rsqrt(x.pow(2).mean(-1, true) + eps));
}

}  // namespace

TEST(RmsNorm, EqualsTheFormulaAndItsGradientsInFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(21);
  // Rows of very different scales, and a width that is not a multiple of the vector length.
  auto x = (torch::randn({3, 50, 37}, torch::kFloat64) * torch::exp(torch::randn({3, 50, 1}, torch::kFloat64) * 3))
               .requires_grad_(true);
  auto weight = torch::randn({37}, torch::kFloat64).requires_grad_(true);
  const double eps = 1e-5;
  auto got = rms_norm(x, weight, eps, torch::kFloat64);
  auto want = rms_norm_formula(x, weight, eps);
  EXPECT_LT(test::relative_difference(got, want), 1e-15);
  EXPECT_LT(test::largest_difference(got, want), 1e-13);

  auto upstream = torch::randn_like(want);
  auto grad_got = torch::autograd::grad({(got * upstream).sum()}, {x, weight}, {}, true, true);
  auto grad_want = torch::autograd::grad({(want * upstream).sum()}, {x, weight}, {}, true, true);
  EXPECT_LT(test::relative_difference(grad_got[0], grad_want[0]), 1e-14);
  EXPECT_LT(test::relative_difference(grad_got[1], grad_want[1]), 1e-14);
  // A backward that builds a graph: second derivatives as ATen's.
  auto weights = torch::randn_like(want);
  auto probe = (grad_got[0] * weights).sum() + grad_got[1].sum();
  auto probe_want = (grad_want[0] * weights).sum() + grad_want[1].sum();
  auto second_got = torch::autograd::grad({probe}, {x, weight});
  auto second_want = torch::autograd::grad({probe_want}, {x, weight});
  EXPECT_LT(test::relative_difference(second_got[0], second_want[0]), 1e-12);
  EXPECT_LT(test::relative_difference(second_got[1], second_want[1]), 1e-12);
}

TEST(RmsNorm, Float32AndItsBfloat16RoundingStayWithinTheirPrecision) {
  test::TwoThreads threads;
  torch::manual_seed(22);
  // A segment of issue 15's model: [batch, 256, hidden 256].
  auto exact_x = torch::randn({4, 256, 256}, torch::kFloat64) * 3;
  auto exact_weight = 1 + torch::randn({256}, torch::kFloat64) * 0.2;
  auto upstream = torch::randn({4, 256, 256}, torch::kFloat64);
  const double eps = 1e-6;
  auto exact = [&](const torch::Tensor& up) {
    auto x = exact_x.clone().requires_grad_(true), w = exact_weight.clone().requires_grad_(true);
    auto y = rms_norm_formula(x, w, eps);
    auto grads = torch::autograd::grad({(y * up.to(torch::kFloat64)).sum()}, {x, w});
    return std::make_tuple(y.detach(), grads[0], grads[1]);
  };
  auto ours = [&](torch::ScalarType output, const torch::Tensor& up) {
    auto x = exact_x.to(torch::kFloat32).requires_grad_(true), w = exact_weight.to(torch::kFloat32).requires_grad_(true);
    auto y = rms_norm(x, w, eps, output);
    auto grads = torch::autograd::grad({(y * up).sum()}, {x, w});
    return std::make_tuple(y.detach(), grads[0], grads[1]);
  };
  auto [want, want_dx, want_dw] = exact(upstream);
  auto [got, got_dx, got_dw] = ours(torch::kFloat32, upstream.to(torch::kFloat32));
  EXPECT_EQ(got.scalar_type(), torch::kFloat32);
  EXPECT_LT(test::relative_difference(got, want), 1e-6);
  EXPECT_LT(test::relative_difference(got_dx, want_dx), 1e-6);
  EXPECT_LT(test::relative_difference(got_dw, want_dw), 1e-6);

  // Rounded to bfloat16 once: within half an ulp (2⁻⁸ relative) of float64, and its gradient (the
  // upstream arriving in bfloat16, as from autocast's matrix multiply) is float32's for it.
  auto upstream16 = upstream.to(torch::kBFloat16);
  auto [got16, got16_dx, got16_dw] = ours(torch::kBFloat16, upstream16);
  EXPECT_EQ(got16.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(got16, got.to(torch::kBFloat16)));  // what autocast's cast of float32's would give
  EXPECT_LE(((got16.to(torch::kFloat64) - want).abs() - std::ldexp(1.0, -8) * want.abs()).max().item<double>(), 1e-6);
  auto [unused, want16_dx, want16_dw] = exact(upstream16);
  EXPECT_LT(test::relative_difference(got16_dx, want16_dx), 1e-6);
  EXPECT_LT(test::relative_difference(got16_dw, want16_dw), 1e-6);
}

TEST(RmsNorm, TheWeightGradientDoesNotDependOnTheThreadCount) {
  torch::manual_seed(23);
  auto x = torch::randn({4, 256, 256}).requires_grad_(true);
  auto weight = torch::randn({256}).requires_grad_(true);
  auto upstream = torch::randn({4, 256, 256});
  auto weight_grad = [&] {
    return torch::autograd::grad({(rms_norm(x, weight, 1e-6, torch::kFloat32) * upstream).sum()}, {weight})[0];
  };
  torch::Tensor two;
  {
    test::TwoThreads threads;
    two = weight_grad();
  }
  const int64_t before = at::get_num_threads();
  at::set_num_threads(1);
  auto one = weight_grad();
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one, two));
}
