// The one-pass causal softmax against masked softmax through ATen, values and gradients.
#include <gtest/gtest.h>

#include "attention/causal_softmax.h"
#include "test_support.h"

using namespace infini;

namespace {

// Row r of [..., rows, keys] sees keys 0 … offset + r.
torch::Tensor masked_softmax(const torch::Tensor& scores, int64_t offset) {
  auto future = torch::ones({scores.size(-2), scores.size(-1)}, torch::kBool).triu(offset + 1);
  return torch::softmax(scores.masked_fill(future, -INFINITY), -1);
}

}  // namespace

TEST(CausalSoftmax, EqualsMaskedSoftmaxAndItsGradientsInFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(8);
  // A block of 5 query rows after 7 earlier positions (cached keys or earlier blocks): 12 keys;
  // and a segment's own square block.
  for (auto [rows, keys, offset] : {std::tuple<int64_t, int64_t, int64_t>{5, 12, 7}, {9, 9, 0}, {4, 30, 26}}) {
    auto scores = (torch::randn({2, 3, 2, rows, keys}, torch::kFloat64) * 5).requires_grad_(true);
    auto got = causal_softmax(scores, offset);
    auto want = masked_softmax(scores, offset);
    EXPECT_LT(test::largest_difference(got, want), 1e-15) << rows << "x" << keys;
    EXPECT_EQ(got.masked_select(torch::ones({rows, keys}, torch::kBool).triu(offset + 1)).abs().max().item<double>(),
              0.0);

    auto upstream = torch::randn_like(want);
    auto grad_got = torch::autograd::grad({(got * upstream).sum()}, {scores}, {}, true, true)[0];
    auto grad_want = torch::autograd::grad({(want * upstream).sum()}, {scores}, {}, true, true)[0];
    EXPECT_LT(test::largest_difference(grad_got, grad_want), 1e-14);
    // A backward that builds a graph: second derivatives as ATen's.
    auto weights = torch::randn_like(want);
    auto second_got = torch::autograd::grad({(grad_got * weights).sum()}, {scores})[0];
    auto second_want = torch::autograd::grad({(grad_want * weights).sum()}, {scores})[0];
    EXPECT_LT(test::largest_difference(second_got, second_want), 1e-13);
  }
}

TEST(CausalSoftmax, Float32AndBfloat16StayWithinTheirRounding) {
  test::TwoThreads threads;
  torch::manual_seed(9);
  // A segment of 256 as attention hands it: [batch, key/value heads, group, rows, keys].
  auto exact_scores = torch::randn({2, 4, 1, 256, 256}, torch::kFloat64) * 4;
  auto upstream = torch::randn({2, 4, 1, 256, 256}, torch::kFloat64);
  auto exact = [&](const torch::Tensor& scores, const torch::Tensor& up) {  // values and gradient in float64
    auto x = scores.to(torch::kFloat64).requires_grad_(true);
    auto p = masked_softmax(x, 0);
    return std::make_pair(p.detach(), torch::autograd::grad({(p * up.to(torch::kFloat64)).sum()}, {x})[0]);
  };
  auto ours = [&](const torch::Tensor& scores, const torch::Tensor& up) {
    auto x = scores.clone().requires_grad_(true);
    auto p = causal_softmax(x, 0);
    return std::make_pair(p.detach(), torch::autograd::grad({(p * up).sum()}, {x})[0]);
  };
  auto relative = [](const torch::Tensor& got, const torch::Tensor& want) {
    return ((got.to(torch::kFloat64) - want).norm() / want.norm()).item<double>();
  };

  auto [p32, g32] = ours(exact_scores.to(torch::kFloat32), upstream.to(torch::kFloat32));
  auto [p64, g64] = exact(exact_scores.to(torch::kFloat32), upstream.to(torch::kFloat32));
  EXPECT_LT(test::largest_difference(p32, p64), 1e-6);
  EXPECT_LT(relative(g32, g64), 1e-6);

  // bfloat16: exponentials in float32, the probabilities rounded once (half an ulp, at most
  // 2⁻⁸ of each); the gradient from those and a bfloat16 upstream gradient, rounded once more.
  auto scores16 = exact_scores.to(torch::kBFloat16), upstream16 = upstream.to(torch::kBFloat16);
  auto [p16, g16] = ours(scores16, upstream16);
  auto [p16_exact, g16_exact] = exact(scores16, upstream16);
  EXPECT_LE(((p16.to(torch::kFloat64) - p16_exact).abs() - std::ldexp(1.0, -8) * p16_exact).max().item<double>(),
            1e-7);
  EXPECT_LT(relative(g16, g16_exact), 1e-2);
}
