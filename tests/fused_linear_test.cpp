// Several linear maps as one matrix multiply give each map's product and gradients.
#include <gtest/gtest.h>

#include "core/autocast.h"
#include "core/fused_linear.h"

using namespace infini;

TEST(FusedLinear, ProductsAndGradientsEqualSeparateMapsInFloat64) {
  torch::manual_seed(5);
  auto options = torch::TensorOptions().dtype(torch::kFloat64);
  auto x = torch::randn({3, 5, 7}, options).requires_grad_(true);
  std::vector<torch::Tensor> weights;
  for (int64_t width : {4, 2, 3}) weights.push_back(torch::randn({width, 7}, options).requires_grad_(true));
  std::vector<torch::Tensor> upstream;
  for (const auto& w : weights) upstream.push_back(torch::randn({3, 5, w.size(0)}, options));

  auto fused = fused_linear(x, weights);
  ASSERT_EQ(fused.size(), weights.size());
  auto loss = torch::zeros({}, options);
  for (size_t i = 0; i < fused.size(); ++i) {
    // Closed form: row by row, x · Wᵀ.
    EXPECT_LT((fused[i] - torch::einsum("bti,oi->bto", {x, weights[i]})).abs().max().item<double>(), 1e-12);
    loss = loss + (fused[i] * upstream[i]).sum();
  }
  auto grads = torch::autograd::grad({loss}, {x, weights[0], weights[1], weights[2]});

  auto expected_x = torch::zeros_like(x);
  for (size_t i = 0; i < weights.size(); ++i) {
    expected_x += upstream[i].matmul(weights[i]);
    auto expected_w = torch::einsum("bto,bti->oi", {upstream[i], x});
    EXPECT_LT((grads[i + 1] - expected_w).abs().max().item<double>(), 1e-12) << "weight " << i;
  }
  EXPECT_LT((grads[0] - expected_x).abs().max().item<double>(), 1e-12);
}

TEST(FusedLinear, RunsInBfloat16UnderAutocastWithFloat32Weights) {
  torch::manual_seed(6);
  auto x = torch::randn({4, 16});
  std::vector<torch::Tensor> weights{torch::randn({8, 16}), torch::randn({5, 16})};
  std::vector<torch::Tensor> fused;
  {
    AutocastScope scope(true);
    fused = fused_linear(x, weights);
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_EQ(fused[i].scalar_type(), torch::kBFloat16);
    auto exact = x.matmul(weights[i].t());
    // bf16 inputs (8 mantissa bits) over 16 products: well inside 5% of the largest entry.
    EXPECT_LT((fused[i].to(torch::kFloat32) - exact).abs().max().item<float>(),
              0.05F * exact.abs().max().item<float>());
  }
}
