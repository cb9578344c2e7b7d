// Stacks of matrix products, one matrix per thread, give the closed-form products and gradients.
#include <gtest/gtest.h>

#include "core/autocast.h"
#include "core/batched_matmul.h"
#include "test_support.h"

using namespace infini;

TEST(BatchedMatmul, StridedStacksGiveTheClosedFormProductAndDerivativesInFloat64) {
  test::TwoThreads threads;
  torch::manual_seed(11);
  auto options = torch::TensorOptions().dtype(torch::kFloat64);
  // Attention's layouts: heads taken out of a [batch, time, heads, dim] tensor (leading dimensions
  // that do not merge into one stride) and a transposed slice of keys.
  auto a_source = torch::randn({2, 5, 3, 4}, options).requires_grad_(true);
  auto b_source = torch::randn({2, 3, 8, 4}, options).requires_grad_(true);
  auto a = a_source.transpose(1, 2);                       // [2, 3, 5, 4]
  auto b = b_source.slice(2, 1, 7).transpose(-1, -2);      // [2, 3, 4, 6]
  auto upstream = torch::randn({2, 3, 5, 6}, options);

  auto product = batched_matmul(a, b);
  ASSERT_EQ(product.sizes(), (std::vector<int64_t>{2, 3, 5, 6}));
  EXPECT_LT(test::largest_difference(product, torch::einsum("xhik,xhkj->xhij", {a, b})), 1e-12);

  auto grads = torch::autograd::grad({(product * upstream).sum()}, {a_source, b_source}, {}, true, true);
  auto expected_a = torch::einsum("xhij,xhkj->xhik", {upstream, b}).transpose(1, 2);
  // Into b_source's gradient through the slice: Bᵀ's gradient, transposed, in rows 1..6.
  auto into_b_source = [&](const torch::Tensor& grad_b) {
    auto full = torch::zeros_like(b_source);
    full.slice(2, 1, 7).copy_(grad_b.transpose(-1, -2));
    return full;
  };
  EXPECT_LT(test::largest_difference(grads[0], expected_a), 1e-12);
  EXPECT_LT(test::largest_difference(grads[1], into_b_source(torch::einsum("xhik,xhij->xhkj", {a, upstream}))), 1e-12);

  // Second derivatives (create_graph): dL/dA = U·Bᵀ depends on B, and d(Σ W ∘ dL/dA)/dB = Wᵀ·U.
  auto weights = torch::randn({2, 5, 3, 4}, options);
  auto second = torch::autograd::grad({(grads[0] * weights).sum()}, {b_source})[0];
  auto expected_second = torch::einsum("xhik,xhij->xhkj", {weights.transpose(1, 2), upstream});
  EXPECT_LT(test::largest_difference(second, into_b_source(expected_second)), 1e-12);
}

TEST(BatchedMatmul, Float32MatchesFloat64AndOneSidedGradientsWork) {
  test::TwoThreads threads;
  torch::manual_seed(12);
  auto a = torch::randn({4, 4, 64, 32}).requires_grad_(true);
  auto b = torch::randn({4, 4, 32, 48});  // no gradient wanted: only A's is formed
  auto upstream = torch::randn({4, 4, 64, 48});
  auto product = batched_matmul(a, b);
  auto exact = torch::matmul(a.detach().to(torch::kFloat64), b.to(torch::kFloat64));
  EXPECT_EQ(product.scalar_type(), torch::kFloat32);
  EXPECT_LT(test::largest_difference(product.to(torch::kFloat64), exact), 1e-5 * exact.abs().max().item<double>());

  (product * upstream).sum().backward();
  auto expected = torch::matmul(upstream.to(torch::kFloat64), b.to(torch::kFloat64).transpose(-1, -2));
  EXPECT_LT(test::largest_difference(a.grad().to(torch::kFloat64), expected), 1e-5 * expected.abs().max().item<double>());
  EXPECT_FALSE(b.grad().defined());
}

TEST(BatchedMatmul, OtherCasesAreTorchMatmul) {
  torch::manual_seed(13);
  auto a = torch::randn({2, 3, 5, 4}, torch::kFloat64);
  // Broadcasting a single matrix over the stack.
  auto shared = torch::randn({4, 6}, torch::kFloat64);
  EXPECT_LT(test::largest_difference(batched_matmul(a, shared), torch::einsum("xhik,kj->xhij", {a, shared})), 1e-12);
  // Under autocast the product is bf16, as torch::matmul makes it.
  {
    AutocastScope scope(true);
    EXPECT_EQ(batched_matmul(a.to(torch::kFloat32), shared.to(torch::kFloat32).expand({2, 3, 4, 6})).scalar_type(),
              torch::kBFloat16);
  }
  // An empty stack, and empty sums.
  EXPECT_EQ(batched_matmul(torch::randn({0, 5, 4}), torch::randn({0, 4, 6})).sizes(), (std::vector<int64_t>{0, 5, 6}));
  EXPECT_EQ(batched_matmul(torch::randn({2, 5, 0}), torch::randn({2, 0, 6})).abs().sum().item<float>(), 0.0F);
}

TEST(BatchedMatmul, RunsInInferenceModeOnEveryThread) {
  test::TwoThreads threads;
  torch::manual_seed(14);
  auto a = torch::randn({4, 3, 5, 4}, torch::kFloat64), b = torch::randn({4, 3, 4, 6}, torch::kFloat64);
  c10::InferenceMode inference;
  EXPECT_LT(test::largest_difference(batched_matmul(a, b), torch::einsum("xhik,xhkj->xhij", {a, b})), 1e-12);
}
