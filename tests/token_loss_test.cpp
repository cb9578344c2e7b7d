// The fused training loss gives LibTorch's cross-entropy and its gradient.
#include <gtest/gtest.h>

#include "test_support.h"
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

TEST(TokenLoss, SecondDerivativesAreCrossEntropysInFloat64) {
  torch::manual_seed(5);
  auto logits = (torch::randn({6, 9}, torch::kFloat64) * 2).requires_grad_(true);
  auto targets = torch::randint(9, {6});
  targets[2] = kIgnore;
  auto weights = torch::randn({6, 9}, torch::kFloat64);
  auto second = [&](const torch::Tensor& loss) {
    auto first = torch::autograd::grad({loss * 1.5}, {logits}, {}, true, true)[0];
    return torch::autograd::grad({(first * weights).sum()}, {logits})[0];
  };
  EXPECT_LT(test::largest_difference(second(summed_cross_entropy(logits, targets, kIgnore)),
                                     second(reference(logits, targets))),
            1e-13);
}

TEST(TokenLoss, AVocabularyOf8000InFloat32AndBfloat16) {
  test::TwoThreads threads;
  torch::manual_seed(6);
  // Issue 15's head: 1,024 rows of 8,000 logits, a few rows ignored.
  auto exact_logits = torch::randn({1024, 8000}, torch::kFloat64) * 3;
  auto targets = torch::randint(8000, {1024});
  targets.slice(0, 100, 110).fill_(kIgnore);
  const double upstream = 0.75;
  auto exact = [&](const torch::Tensor& logits) {
    auto x = logits.to(torch::kFloat64).requires_grad_(true);
    auto loss = reference(x, targets);
    return std::make_pair(loss.item<double>(), torch::autograd::grad({loss * upstream}, {x})[0]);
  };
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto logits = exact_logits.to(dtype).requires_grad_(true);
    auto loss = summed_cross_entropy(logits, targets, kIgnore);
    auto grad = torch::autograd::grad({loss * upstream}, {logits})[0];
    ASSERT_EQ(grad.scalar_type(), dtype);
    auto [want, want_grad] = exact(logits.detach());  // on the logits as stored
    EXPECT_NEAR(loss.item<double>(), want, 1e-6 * want);
    // float32: softmax's exponent x − log Σ exp carries about 1e-6 of rounding (its terms are
    // near 10), so its exponential 1e-6 relative; bfloat16 adds one rounding, within half an ulp
    // (2⁻⁸ relative) of the float64 gradient on its logits.
    const double ulp = (dtype == torch::kBFloat16 ? std::ldexp(1.0, -8) : 0.0) + 4e-6;
    EXPECT_LE(((grad.to(torch::kFloat64) - want_grad).abs() - ulp * want_grad.abs()).max().item<double>(), 1e-9);
    EXPECT_EQ(grad.slice(0, 100, 110).abs().max().item<double>(), 0.0);
  }
}

TEST(TokenLoss, TheSumDoesNotDependOnTheThreadCount) {
  torch::manual_seed(7);
  auto logits = torch::randn({333, 500});
  auto targets = torch::randint(500, {333});
  torch::Tensor two;
  {
    test::TwoThreads threads;
    two = summed_cross_entropy(logits, targets, kIgnore);
  }
  const int64_t before = at::get_num_threads();
  at::set_num_threads(1);
  auto one = summed_cross_entropy(logits, targets, kIgnore);
  at::set_num_threads(before);
  EXPECT_TRUE(torch::equal(one, two));
}

TEST(TokenLoss, ATargetOutsideTheVocabularyIsRefused) {
  auto logits = torch::randn({3, 5});
  EXPECT_THROW(summed_cross_entropy(logits, torch::tensor({1, 5, 2}), kIgnore), c10::Error);
  EXPECT_THROW(summed_cross_entropy(logits, torch::tensor({1, -3, 2}), kIgnore), c10::Error);
}
