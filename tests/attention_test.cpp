// The attention kinds against each other and against their definitions.
#include <gtest/gtest.h>

#include "attention/attention.h"
#include "attention/rope.h"
#include "test_support.h"

using namespace infini;

namespace {

AttentionOptions options(AttentionKind kind, int64_t heads = 4, int64_t kv_heads = 2) {
  return {16, heads, kv_heads, 8, kind, MemoryUpdate::Linear, 1e-6, 10000.0};
}

// Same weights in a layer of another kind.
Attention copy_as(const Attention& source, AttentionKind kind) {
  auto o = source->options();
  o.kind = kind;
  Attention layer(o);
  torch::NoGradGuard no_grad;
  layer->q_proj->weight.copy_(source->q_proj->weight);
  layer->k_proj->weight.copy_(source->k_proj->weight);
  layer->v_proj->weight.copy_(source->v_proj->weight);
  layer->o_proj->weight.copy_(source->o_proj->weight);
  return layer;
}

}  // namespace

TEST(Rope, MatchesRotationOfEachPair) {
  // Channel i pairs with i + d/2 and rotates by position · θ^(-2i/d).
  auto x = torch::randn({1, 1, 5, 8}, torch::kFloat64);
  auto y = apply_rope(x, 3, 100.0);
  for (int64_t t = 0; t < 5; ++t) {
    for (int64_t i = 0; i < 4; ++i) {
      double angle = (3 + t) * std::pow(100.0, -2.0 * i / 8.0);
      double a = x[0][0][t][i].item<double>(), b = x[0][0][t][i + 4].item<double>();
      EXPECT_NEAR(y[0][0][t][i].item<double>(), a * std::cos(angle) - b * std::sin(angle), 1e-12);
      EXPECT_NEAR(y[0][0][t][i + 4].item<double>(), b * std::cos(angle) + a * std::sin(angle), 1e-12);
    }
  }
}

TEST(Rope, ATableFirstMadeWhileScoringServesTrainingOnTheSameThread) {
  // The cos/sin table of a shape is kept per thread; one first made under inference mode (as
  // validation scores) must still be usable by a training step's backward afterwards.
  auto x = torch::randn({1, 2, 7, 8}, torch::kFloat64);
  torch::Tensor scored;
  {
    c10::InferenceMode scoring;
    scored = apply_rope(x, 2, 321.0);  // a shape and θ no other test uses: a fresh table
  }
  auto trained = x.clone().requires_grad_(true);
  auto out = apply_rope(trained, 2, 321.0);
  ASSERT_NO_THROW(out.pow(2).sum().backward());
  EXPECT_TRUE(torch::equal(out.detach(), scored));
  // A rotation keeps lengths: the gradient of Σ out² is 2·x.
  EXPECT_LT((trained.grad() - 2 * x).abs().max().item<double>(), 1e-12);
}

TEST(Rope, OnePassLoopMatchesTheFormulaAndItsGradients) {
  // apply_rope runs one loop over the channels on the CPU; here against x·cos + rotate_half(x)·sin
  // through ATen's ops, on the strided layout attention hands it (heads taken out of the
  // projections' columns), forward, backward and a backward that builds a graph.
  test::TwoThreads threads;
  torch::manual_seed(7);
  const int64_t batch = 2, heads = 3, length = 300, dim = 8, first = 41;
  const double theta = 500.0;
  auto source = torch::randn({batch, length, heads * dim + 5}, torch::kFloat64).requires_grad_(true);
  auto x = source.narrow(2, 5, heads * dim).view({batch, length, heads, dim}).transpose(1, 2);
  auto positions = torch::arange(first, first + length, torch::kFloat64).unsqueeze(1);
  auto angles = positions * torch::pow(theta, -torch::arange(0, dim, 2, torch::kFloat64) / dim);
  auto cos = torch::cat({angles.cos(), angles.cos()}, -1), sin = torch::cat({angles.sin(), angles.sin()}, -1);
  auto rotate_half = [](const torch::Tensor& t) { return torch::cat({-t.narrow(-1, dim / 2, dim / 2), t.narrow(-1, 0, dim / 2)}, -1); };
  auto expected = x * cos + rotate_half(x) * sin;
  auto got = apply_rope(x, first, theta);
  EXPECT_TRUE(got.is_contiguous());
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-15);

  auto upstream = torch::randn_like(expected);
  auto want = torch::autograd::grad({(expected * upstream).sum()}, {source}, {}, true, true)[0];
  auto have = torch::autograd::grad({(got * upstream).sum()}, {source}, {}, true, true)[0];
  EXPECT_LT((have - want).abs().max().item<double>(), 1e-15);
  // The gradient is the inverse rotation of the upstream one: linear in it, with no second
  // derivative in x, so only a weighted sum of it differentiated for `upstream` tells.
  auto weights = torch::randn_like(source);
  upstream.requires_grad_(true);
  auto second_want = torch::autograd::grad(
      {(torch::autograd::grad({(expected * upstream).sum()}, {source}, {}, true, true)[0] * weights).sum()}, {upstream})[0];
  auto second_have = torch::autograd::grad(
      {(torch::autograd::grad({(got * upstream).sum()}, {source}, {}, true, true)[0] * weights).sum()}, {upstream})[0];
  EXPECT_LT((second_have - second_want).abs().max().item<double>(), 1e-15);

  // float32 as the formula does it; bfloat16 with one rounding, at the end: within half an ulp
  // (bfloat16's unit roundoff, 2⁻⁸ relative) of the float64 result, less float32's own error.
  auto x32 = x.detach().to(torch::kFloat32);
  EXPECT_LT((apply_rope(x32, first, theta).to(torch::kFloat64) - expected).abs().max().item<double>(), 1e-6);
  auto bf16 = apply_rope(x.detach().to(torch::kBFloat16), first, theta).to(torch::kFloat64);
  auto exact = apply_rope(x.detach().to(torch::kBFloat16).to(torch::kFloat64), first, theta);
  EXPECT_LE(((bf16 - exact).abs() - std::ldexp(1.0, -8) * exact.abs()).max().item<double>(), 1e-6);
}

TEST(Attention, InfiniWithClosedGateEqualsLocal) {
  torch::manual_seed(1);
  Attention infini(options(AttentionKind::Infini));
  auto local = copy_as(infini, AttentionKind::Local);
  {
    torch::NoGradGuard no_grad;
    infini->gate.fill_(-1e4);  // sigmoid(β) = 0: local attention only
  }
  AttentionState a, b;
  for (int segment = 0; segment < 3; ++segment) {
    auto x = torch::randn({2, 6, 16});
    auto [out_infini, next_a] = infini(x, a);
    auto [out_local, next_b] = local(x, b);
    EXPECT_TRUE(torch::allclose(out_infini, out_local, 1e-6, 1e-6)) << "segment " << segment;
    a = next_a;
    b = next_b;
  }
}

TEST(Attention, FullOnOneSegmentEqualsLocal) {
  torch::manual_seed(2);
  Attention full(options(AttentionKind::Full));
  auto local = copy_as(full, AttentionKind::Local);
  auto x = torch::randn({2, 7, 16});
  EXPECT_TRUE(torch::allclose(full(x, AttentionState{}).first, local(x, AttentionState{}).first, 1e-6, 1e-6));
}

TEST(Attention, FullAcrossSegmentsEqualsFullOverTheWhole) {
  torch::manual_seed(3);
  Attention full(options(AttentionKind::Full));
  auto x = torch::randn({1, 12, 16}, torch::kFloat32);
  auto whole = full(x, AttentionState{}).first;
  auto [first, state] = full(x.slice(1, 0, 5), AttentionState{});
  auto second = full(x.slice(1, 5, 12), state).first;
  EXPECT_TRUE(torch::allclose(torch::cat({first, second}, 1), whole, 1e-5, 1e-5));
}

TEST(Attention, XlSeesExactlyOnePreviousSegment) {
  torch::manual_seed(4);
  Attention xl(options(AttentionKind::Xl));
  std::vector<torch::Tensor> segments;
  for (int i = 0; i < 3; ++i) segments.push_back(torch::randn({1, 4, 16}));
  auto run = [&](const std::vector<torch::Tensor>& inputs) {
    AttentionState state;
    torch::Tensor out;
    for (const auto& x : inputs) std::tie(out, state) = xl(x, state);
    return out;  // the last segment's output
  };
  auto base = run(segments);
  auto changed_two_back = segments;
  changed_two_back[0] = torch::randn({1, 4, 16});
  EXPECT_TRUE(torch::equal(run(changed_two_back), base)) << "segment s-2 must not be seen";
  auto changed_previous = segments;
  changed_previous[1] = torch::randn({1, 4, 16});
  EXPECT_FALSE(torch::allclose(run(changed_previous), base, 1e-4, 1e-4)) << "segment s-1 must be seen";

  // And what it sees is exactly full attention over [previous, current] at positions 0..2N-1.
  auto full = copy_as(xl, AttentionKind::Full);
  auto both = full(torch::cat({segments[1], segments[2]}, 1), AttentionState{}).first.slice(1, 4, 8);
  EXPECT_TRUE(torch::allclose(base, both, 1e-5, 1e-5));
}

TEST(Attention, GroupedQueryHeadsEqualRepeatedKeyValueHeads) {
  // GQA with 4 query heads on 2 kv heads equals 4 heads on kv weights repeated per HF repeat_kv.
  torch::manual_seed(5);
  for (auto kind : {AttentionKind::Infini, AttentionKind::Local}) {
    Attention grouped(options(kind, 4, 2));
    Attention repeated(options(kind, 4, 4));
    {
      torch::NoGradGuard no_grad;
      if (kind == AttentionKind::Infini) {
        grouped->gate.copy_(torch::tensor({-1.0, 0.5, 1.0, 2.0}));
        repeated->gate.copy_(grouped->gate);
      }
      repeated->q_proj->weight.copy_(grouped->q_proj->weight);
      repeated->o_proj->weight.copy_(grouped->o_proj->weight);
      // kv head j serves query heads 2j and 2j+1
      auto repeat = [](const torch::Tensor& w) { return w.view({2, 1, 8, 16}).expand({2, 2, 8, 16}).reshape({32, 16}); };
      repeated->k_proj->weight.copy_(repeat(grouped->k_proj->weight));
      repeated->v_proj->weight.copy_(repeat(grouped->v_proj->weight));
    }
    AttentionState a, b;
    for (int segment = 0; segment < 3; ++segment) {
      auto x = torch::randn({2, 5, 16});
      auto [out_grouped, next_a] = grouped(x, a);
      auto [out_repeated, next_b] = repeated(x, b);
      EXPECT_TRUE(torch::allclose(out_grouped, out_repeated, 1e-5, 1e-5)) << attention_kind_name(kind) << " segment " << segment;
      a = next_a;
      b = next_b;
    }
  }
}

TEST(Attention, BlockedQueryRowsEqualOneBlock) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto q = torch::randn({2, 4, 10, 8}, opts), k = torch::randn({2, 2, 13, 8}, opts), v = torch::randn({2, 2, 13, 8}, opts);
  auto whole = causal_attention(q, k, v, /*past=*/3, /*block_rows=*/10);
  for (int64_t rows : {1, 3, 4, 7}) {
    EXPECT_TRUE(torch::allclose(causal_attention(q, k, v, 3, rows), whole, 1e-12, 1e-12)) << rows;
  }
  // And the single block is softmax(QKᵀ/√d + mask)·V written out directly (query head h on kv h/2).
  auto expected = torch::empty_like(q);
  for (int64_t h = 0; h < 4; ++h) {
    auto scores = q.select(1, h).matmul(k.select(1, h / 2).transpose(-1, -2)) / std::sqrt(8.0);
    auto mask = torch::ones({10, 13}, torch::kBool).triu(4);
    expected.select(1, h).copy_(torch::softmax(scores.masked_fill(mask, -INFINITY), -1).matmul(v.select(1, h / 2)));
  }
  EXPECT_TRUE(torch::allclose(whole, expected, 1e-12, 1e-12));
}
