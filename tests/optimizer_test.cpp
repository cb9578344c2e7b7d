// AdamW against LibTorch's own, and the learning-rate schedules against their closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "train/gradients.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

using namespace infini;

TEST(AdamW, MatchesTorchAdamWOverSeveralStepsWithTwoGroups) {
  torch::manual_seed(3);
  auto a = torch::randn({5, 4}, torch::kFloat64), b = torch::randn({7}, torch::kFloat64);
  auto ours_a = a.clone().requires_grad_(true), ours_b = b.clone().requires_grad_(true);
  auto ref_a = a.clone().requires_grad_(true), ref_b = b.clone().requires_grad_(true);
  AdamW ours({{"a", {{"a", ours_a}}, 0.01, 0.1}, {"b", {{"b", ours_b}}, 0.05, 0.0}}, {0.9, 0.95, 1e-8});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{ref_a},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0.01)
                                                                       .betas({0.9, 0.95})
                                                                       .eps(1e-8)
                                                                       .weight_decay(0.1)));
  groups.emplace_back(std::vector<torch::Tensor>{ref_b},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(0.05)
                                                                       .betas({0.9, 0.95})
                                                                       .eps(1e-8)
                                                                       .weight_decay(0.0)));
  torch::optim::AdamW reference(groups);
  for (int step = 0; step < 5; ++step) {
    auto x = torch::randn({4}, torch::kFloat64);
    auto loss = [&](const torch::Tensor& p, const torch::Tensor& q) {
      return (torch::matmul(p, x).pow(2).sum() + (q * q.sin()).sum());
    };
    ours.zero_grad();
    reference.zero_grad();
    loss(ours_a, ours_b).backward();
    loss(ref_a, ref_b).backward();
    ours.step(1.0);
    reference.step();
  }
  EXPECT_LT((ours_a - ref_a).abs().max().item<double>(), 1e-12);
  EXPECT_LT((ours_b - ref_b).abs().max().item<double>(), 1e-12);
  EXPECT_GT((ours_a - a).abs().max().item<double>(), 1e-3);  // it did move
}

// Contiguous float32 parameters take the one-pass update, strided ones ATen's op-by-op path; both
// stay within float32's rounding of torch::optim::AdamW in float64, given the same gradients.
TEST(AdamW, OnePassAndOpByOpStayWithinFloat32RoundingOfTorchAdamW) {
  torch::manual_seed(5);
  const auto start = torch::randn({64, 48}, torch::kFloat64);
  auto one_pass = start.to(torch::kFloat).requires_grad_(true);
  auto strided = start.to(torch::kFloat).t().contiguous().t().requires_grad_(true);
  auto reference = start.clone().requires_grad_(true);
  ASSERT_FALSE(strided.is_contiguous());
  AdamW ours({{"a", {{"a", one_pass}}, 0.01, 0.1}}, {0.9, 0.95, 1e-8});
  AdamW ops({{"a", {{"a", strided}}, 0.01, 0.1}}, {0.9, 0.95, 1e-8});
  torch::optim::AdamW torch_adamw({reference},
                                  torch::optim::AdamWOptions(0.01).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  for (int step = 0; step < 5; ++step) {
    const auto grad = torch::randn({64, 48}, torch::kFloat64);
    one_pass.mutable_grad() = grad.to(torch::kFloat);
    strided.mutable_grad() = grad.to(torch::kFloat).t().contiguous().t();
    reference.mutable_grad() = grad.clone();
    ASSERT_FALSE(strided.grad().is_contiguous());
    ours.step(1.0);
    ops.step(1.0);
    torch_adamw.step();
  }
  const auto expected = reference.detach();
  EXPECT_LT((one_pass.detach().to(torch::kFloat64) - expected).abs().max().item<double>(), 2e-6);
  EXPECT_LT((strided.detach().to(torch::kFloat64) - expected).abs().max().item<double>(), 2e-6);
  EXPECT_LT((one_pass - strided).abs().max().item<double>(), 1e-6);
  EXPECT_GT((expected - start).abs().max().item<double>(), 1e-2);  // it did move
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  auto p = torch::tensor({1.0, -2.0, 3.0}).requires_grad_(true);
  AdamW first({{"g", {{"p", p}}, 0.1, 0.01}}, {});
  for (int i = 0; i < 3; ++i) {
    first.zero_grad();
    (p * p).sum().backward();
    first.step(1.0);
  }
  auto q = p.detach().clone().requires_grad_(true);
  AdamW second({{"g", {{"p", q}}, 0.1, 0.01}}, {});
  second.load_state(first.state(), first.steps(), "test");
  for (auto [opt, t] : {std::pair{&first, p}, std::pair{&second, q}}) {
    opt->zero_grad();
    (t * t).sum().backward();
    opt->step(0.5);
  }
  EXPECT_TRUE(torch::equal(p, q));
}

TEST(Schedule, WarmupThenCosineLinearAndConstant) {
  ScheduleSection s;
  s.warmup_steps = 10;
  s.min_lr_ratio = 0.1;
  s.kind = ScheduleKind::Cosine;
  EXPECT_DOUBLE_EQ(lr_factor(s, 1, 110), 0.1);
  EXPECT_DOUBLE_EQ(lr_factor(s, 5, 110), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor(s, 10, 110), 1.0);
  EXPECT_NEAR(lr_factor(s, 60, 110), 0.1 + 0.9 * 0.5, 1e-12);  // halfway down the cosine
  EXPECT_NEAR(lr_factor(s, 35, 110), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
  EXPECT_NEAR(lr_factor(s, 110, 110), 0.1, 1e-12);
  EXPECT_NEAR(lr_factor(s, 200, 110), 0.1, 1e-12);  // past the end: the floor
  s.kind = ScheduleKind::Linear;
  EXPECT_NEAR(lr_factor(s, 35, 110), 0.1 + 0.9 * 0.75, 1e-12);
  s.kind = ScheduleKind::Constant;
  EXPECT_DOUBLE_EQ(lr_factor(s, 5, 110), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor(s, 90, 110), 1.0);
  s.warmup_steps = 0;
  s.kind = ScheduleKind::Cosine;
  EXPECT_DOUBLE_EQ(lr_factor(s, 1, 100), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.01)));
}

TEST(Gradients, TheGlobalNormIsTheFloat64NormOfEveryGradient) {
  torch::manual_seed(11);
  // float32 gradients of several sizes (one not a multiple of the vector length), a float64 one,
  // a non-contiguous one, and a parameter without a gradient (counted as zeros).
  std::vector<torch::Tensor> parameters = {torch::zeros({1000, 37}), torch::zeros({5}), torch::zeros({3, 3}, torch::kFloat64),
                                           torch::zeros({4, 6}), torch::zeros({2})};
  parameters[0].mutable_grad() = torch::randn({1000, 37}) * 1e3;
  parameters[1].mutable_grad() = torch::randn({5}) * 1e-3;
  parameters[2].mutable_grad() = torch::randn({3, 3}, torch::kFloat64);
  parameters[3].mutable_grad() = torch::randn({6, 4}).t();
  double want = 0;
  for (int i = 0; i < 4; ++i) want += parameters[i].grad().to(torch::kFloat64).pow(2).sum().item<double>();
  want = std::sqrt(want);
  SingleProcess alone;
  EXPECT_NEAR(reduce_gradients(parameters, alone), want, 1e-14 * want);
  EXPECT_TRUE(parameters[4].grad().defined());
}
