// The memory's read (Eq. 7) in one pass per head against ATen's formula: values, gradients and
// second derivatives in float64, float32 within its rounding, the same bits on any thread count.
#include <gtest/gtest.h>

#include "attention/memory_read.h"
#include "test_support.h"

using namespace infini;

namespace {

// Eq. 7 through ATen's ops.
torch::Tensor formula(const torch::Tensor& matrix, const torch::Tensor& normalizer, const torch::Tensor& sigma_q,
                      double eps) {
  return torch::matmul(sigma_q, matrix) / (torch::matmul(sigma_q, normalizer.unsqueeze(-1)) + eps);
}

struct Inputs {
  torch::Tensor matrix, normalizer, queries;  // leaves; the read takes a strided view of queries
  torch::Tensor sigma_q() const { return queries.select(1, 1); }
};

// A memory as training leaves it (z a sum of positive features, M of mixed sign) and σ(Q) as
// attention hands it: segment 1 of a [batch, segments, heads, rows, d] stack.
Inputs make_inputs(torch::ScalarType dtype, int64_t batch, int64_t heads, int64_t rows, int64_t d, uint64_t seed) {
  torch::manual_seed(seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  Inputs in;
  in.matrix = torch::randn({batch, heads, d, d}, opts).to(dtype).requires_grad_(true);
  in.normalizer = (torch::rand({batch, heads, d}, opts) * 20 + 1).to(dtype).requires_grad_(true);
  in.queries = (torch::rand({batch, 3, heads, rows, d}, opts) * 2).to(dtype).requires_grad_(true);
  return in;
}

std::vector<torch::Tensor> gradients(const torch::Tensor& out, const torch::Tensor& upstream, const Inputs& in,
                                     bool create_graph) {
  return torch::autograd::grad({(out * upstream).sum()}, {in.matrix, in.normalizer, in.queries}, {}, true,
                               create_graph);
}

}  // namespace

TEST(MemoryRead, EqualsTheFormulaWithGradientsAndSecondDerivativesInFloat64) {
  test::TwoThreads threads;
  const auto in = make_inputs(torch::kFloat64, 2, 3, 10, 8, 41);  // 10 rows: a group of query heads
  const double eps = 1e-6;
  auto got = memory_read(in.matrix, in.normalizer, in.sigma_q(), eps);
  auto want = formula(in.matrix, in.normalizer, in.sigma_q(), eps);
  EXPECT_LT(test::relative_difference(got, want), 1e-15);

  auto upstream = torch::randn_like(want);
  // The one-pass backward, then the one that builds a graph (ATen's formula, for second derivatives).
  auto grad_fast = gradients(got, upstream, in, false);
  auto grad_got = gradients(got, upstream, in, true);
  auto grad_want = gradients(want, upstream, in, true);
  const char* names[3] = {"M", "z", "queries"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT(test::relative_difference(grad_fast[i], grad_want[i]), 1e-14) << names[i];
    EXPECT_LT(test::relative_difference(grad_got[i], grad_want[i]), 1e-14) << names[i];
    EXPECT_GT(grad_want[i].abs().max().item<double>(), 0.0) << names[i];
  }
  EXPECT_EQ(grad_got[2].select(1, 0).abs().max().item<double>(), 0.0);  // other segments get nothing
  // A backward that builds a graph: its second derivatives are the formula's.
  auto weights = torch::randn_like(grad_want[2]);
  auto second_got = torch::autograd::grad({(grad_got[2] * weights).sum()}, {in.matrix, in.normalizer})[0];
  auto second_want = torch::autograd::grad({(grad_want[2] * weights).sum()}, {in.matrix, in.normalizer})[0];
  EXPECT_LT(test::relative_difference(second_got, second_want), 1e-14);
}

TEST(MemoryRead, Float32IsWithinItsRoundingOfFloat64) {
  test::TwoThreads threads;
  // Issue 15's shapes: 4 rows of the batch, 4 heads, segments of 256, heads of 64.
  const auto in = make_inputs(torch::kFloat32, 4, 4, 256, 64, 42);
  const auto exact = Inputs{in.matrix.detach().to(torch::kFloat64).requires_grad_(true),
                            in.normalizer.detach().to(torch::kFloat64).requires_grad_(true),
                            in.queries.detach().to(torch::kFloat64).requires_grad_(true)};
  auto got = memory_read(in.matrix, in.normalizer, in.sigma_q(), 1e-6);
  auto want = formula(exact.matrix, exact.normalizer, exact.sigma_q(), 1e-6);
  EXPECT_EQ(got.scalar_type(), torch::kFloat32);
  EXPECT_LT(test::relative_difference(got, want), 1e-6);
  auto upstream = torch::randn(want.sizes(), torch::kFloat64);
  auto grad_got = gradients(got, upstream.to(torch::kFloat32), in, false);
  auto grad_want = gradients(want, upstream, exact, false);
  for (int i = 0; i < 3; ++i) EXPECT_LT(test::relative_difference(grad_got[i], grad_want[i]), 1e-6) << i;
}

TEST(MemoryRead, GivesTheSameBitsOnOneThreadAsOnTwo) {
  const auto in = make_inputs(torch::kFloat32, 2, 4, 64, 16, 43);
  auto upstream = torch::randn({2, 4, 64, 16});
  std::vector<torch::Tensor> results[2];
  for (int threads = 1; threads <= 2; ++threads) {
    const int64_t before = at::get_num_threads();
    at::set_num_threads(threads);
    auto out = memory_read(in.matrix, in.normalizer, in.sigma_q(), 1e-6);
    results[threads - 1] = gradients(out, upstream, in, false);
    results[threads - 1].push_back(out.detach());
    at::set_num_threads(before);
  }
  for (size_t i = 0; i < results[0].size(); ++i) EXPECT_TRUE(torch::equal(results[0][i], results[1][i])) << i;
}

TEST(MemoryRead, ComputesOnlyTheGradientsAskedForAndReadsWithoutAutograd) {
  test::TwoThreads threads;
  const auto in = make_inputs(torch::kFloat64, 2, 2, 12, 4, 44);
  auto queries = in.queries.detach();  // a frozen input: the read still carries M's and z's gradients
  auto got = memory_read(in.matrix, in.normalizer, queries.select(1, 1), 1e-6);
  auto want = formula(in.matrix, in.normalizer, queries.select(1, 1), 1e-6);
  auto upstream = torch::randn_like(want);
  auto grad_got = torch::autograd::grad({(got * upstream).sum()}, {in.matrix, in.normalizer});
  auto grad_want = torch::autograd::grad({(want * upstream).sum()}, {in.matrix, in.normalizer});
  for (int i = 0; i < 2; ++i) EXPECT_LT(test::relative_difference(grad_got[i], grad_want[i]), 1e-14) << i;

  torch::InferenceMode inference;
  auto read = memory_read(in.matrix.detach(), in.normalizer.detach(), queries.select(1, 2), 1e-6);
  EXPECT_FALSE(read.requires_grad());
  EXPECT_LT(test::relative_difference(read, formula(in.matrix.detach(), in.normalizer.detach(), queries.select(1, 2), 1e-6)),
            1e-15);
}
