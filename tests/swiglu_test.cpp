// The one-pass gated activation against silu(gate)·up and its closed-form derivatives.
#include <gtest/gtest.h>

#include "core/swiglu.h"
#include "test_support.h"

using namespace infini;

TEST(SwiGlu, ValuesAndGradientsAreTheClosedFormInFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(3);
  // Gates from −30 to 30: σ saturates at both ends.
  auto gate_up = (torch::randn({3, 70, 2 * 37}, torch::kFloat64) * 8).requires_grad_(true);
  auto g = gate_up.detach().narrow(-1, 0, 37), u = gate_up.detach().narrow(-1, 37, 37);
  auto sigmoid = 1 / (1 + torch::exp(-g));
  auto out = swiglu(gate_up);
  EXPECT_LT(test::largest_difference(out, g * sigmoid * u), 1e-13);

  auto upstream = torch::randn({3, 70, 37}, torch::kFloat64);
  auto grad = torch::autograd::grad({(out * upstream).sum()}, {gate_up})[0];
  EXPECT_LT(test::largest_difference(grad.narrow(-1, 0, 37), upstream * u * sigmoid * (1 + g * (1 - sigmoid))), 1e-13);
  EXPECT_LT(test::largest_difference(grad.narrow(-1, 37, 37), upstream * g * sigmoid), 1e-13);

  // A backward that builds a graph: d(Σ w·dL/d(up))/d(gate) = w·upstream·σ(g)(1 + g(1 − σ(g))).
  auto weights = torch::randn({3, 70, 37}, torch::kFloat64);
  auto first = torch::autograd::grad({(swiglu(gate_up) * upstream).sum()}, {gate_up}, {}, true, true)[0];
  auto second = torch::autograd::grad({(first.narrow(-1, 37, 37) * weights).sum()}, {gate_up})[0];
  EXPECT_LT(test::largest_difference(second.narrow(-1, 0, 37), weights * upstream * sigmoid * (1 + g * (1 - sigmoid))),
            1e-12);
}

TEST(SwiGlu, Float32AndBfloat16StayWithinTheirRoundingOfFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(4);
  auto exact_input = torch::randn({4, 64, 2 * 688}, torch::kFloat64) * 4;
  auto exact = swiglu(exact_input);
  auto upstream = torch::randn({4, 64, 688}, torch::kFloat64);
  auto exact_grad = [&](const torch::Tensor& input) {
    auto x = input.to(torch::kFloat64).requires_grad_(true);
    return torch::autograd::grad({(swiglu(x) * upstream).sum()}, {x})[0];
  };
  // float32: the exponential within a few ulps, so values and gradients within 1e-6 of their
  // size (norms: a gradient near a zero of 1 + g(1 − σ(g)) has no relative accuracy).
  auto relative = [](const torch::Tensor& got, const torch::Tensor& want) {
    return ((got.to(torch::kFloat64) - want).norm() / want.norm()).item<double>();
  };
  auto input32 = exact_input.to(torch::kFloat32).requires_grad_(true);
  auto out32 = swiglu(input32);
  EXPECT_LT(relative(out32, exact), 1e-6);
  auto grad32 = torch::autograd::grad({(out32 * upstream.to(torch::kFloat32)).sum()}, {input32})[0];
  EXPECT_LT(relative(grad32, exact_grad(exact_input)), 1e-6);

  // bfloat16 in, float32 inside, one rounding out: within half an ulp (at most 2⁻⁸ relative) of
  // the float64 result on the bfloat16 inputs.
  auto input16 = exact_input.to(torch::kBFloat16);
  auto on_inputs = swiglu(input16.to(torch::kFloat64));
  auto out16 = swiglu(input16).to(torch::kFloat64);
  EXPECT_LE(((out16 - on_inputs).abs() - std::ldexp(1.0, -8) * on_inputs.abs()).max().item<double>(), 1e-6);
}
