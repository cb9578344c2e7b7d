// The fused training loss gives LibTorch's cross-entropy and its gradient.
#include <gtest/gtest.h>

#include "train/token_loss.h"

using namespace infini;

namespace {

constexpr int64_t kIgnore = -100;

torch::Tensor reference(const torch::Tensor& logits, const torch::Tensor& targets) {
  return torch::nn::functional::cross_entropy(
      logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(kIgnore));
}

}  // namespace

TEST(TokenLoss, ValueAndGradientEqualCrossEntropyInFloat64) {
  torch::manual_seed(3);
  auto logits = (torch::randn({12, 7}, torch::kFloat64) * 3).requires_grad_(true);
  auto targets = torch::randint(7, {12});
  targets[4] = kIgnore;
  targets[9] = kIgnore;
  const double upstream = -2.5;  // the gradient that reaches the loss is scaled through

  auto fused = summed_cross_entropy(logits, targets, kIgnore);
  EXPECT_EQ(fused.scalar_type(), torch::kFloat64);
  (fused * upstream).backward();
  auto fused_grad = logits.grad().clone();
  logits.mutable_grad().zero_();
  auto expected = reference(logits, targets);
  (expected * upstream).backward();

  EXPECT_NEAR(fused.item<double>(), expected.item<double>(), 1e-12);
  EXPECT_LT((fused_grad - logits.grad()).abs().max().item<double>(), 1e-12);
  EXPECT_EQ(fused_grad[4].abs().max().item<double>(), 0.0) << "an ignored row has no gradient";
  // Each counted row's gradient sums to zero: softmax minus a one-hot, scaled.
  EXPECT_LT(fused_grad.sum(1).abs().max().item<double>(), 1e-12);
}

TEST(TokenLoss, Float32AndBfloat16LogitsScoreInFloat32) {
  torch::manual_seed(4);
  auto logits = torch::randn({16, 50});
  auto targets = torch::randint(50, {16});
  auto as_double = reference(logits.to(torch::kFloat64), targets).item<double>();
  auto single = summed_cross_entropy(logits, targets, kIgnore);
  EXPECT_EQ(single.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(single.item<double>(), as_double, 1e-5 * std::abs(as_double));

  auto half = logits.to(torch::kBFloat16).requires_grad_(true);
  auto loss = summed_cross_entropy(half, targets, kIgnore);
  EXPECT_EQ(loss.scalar_type(), torch::kFloat32);
  loss.backward();
  EXPECT_EQ(half.grad().scalar_type(), torch::kBFloat16);
  auto expected = reference(half.detach().to(torch::kFloat64), targets).item<double>();
  EXPECT_NEAR(loss.item<double>(), expected, 1e-5 * std::abs(expected));
}
