// Infini-attention against a float64 reference written directly from the paper's equations,
// per head and per token, and a finite-difference check of gradients through the memory.
#include <gtest/gtest.h>

#include "attention/attention.h"
#include "attention/feature_map.h"
#include "attention/rope.h"

using namespace infini;
using torch::indexing::Slice;

namespace {

AttentionOptions infini_options(MemoryUpdate rule, int64_t heads, int64_t kv_heads) {
  return {12, heads, kv_heads, 4, AttentionKind::Infini, rule, 1e-6, 10000.0};
}

double sigma(double x) { return x > 0 ? x + 1.0 : std::exp(x); }  // ELU(x) + 1

// One segment for one batch row, written from SPEC section 1 with loops over heads and tokens.
// M[kv] is d×d, z[kv] is d, both carried by the caller.
torch::Tensor reference_segment(const Attention& layer, const torch::Tensor& x, std::vector<torch::Tensor>& M,
                                std::vector<torch::Tensor>& z) {
  const auto& o = layer->options();
  const int64_t n = x.size(0), d = o.head_dim, group = o.num_heads / o.num_kv_heads;
  auto q_all = x.matmul(layer->q_proj->weight.t());
  auto k_all = x.matmul(layer->k_proj->weight.t());
  auto v_all = x.matmul(layer->v_proj->weight.t());
  std::vector<torch::Tensor> heads;
  for (int64_t h = 0; h < o.num_heads; ++h) {
    const int64_t kv = h / group;
    auto q = q_all.index({Slice(), Slice(h * d, (h + 1) * d)});
    auto k = k_all.index({Slice(), Slice(kv * d, (kv + 1) * d)});
    auto v = v_all.index({Slice(), Slice(kv * d, (kv + 1) * d)});
    auto qr = apply_rope(q.view({1, 1, n, d}), 0, o.rope_theta).view({n, d});
    auto kr = apply_rope(k.view({1, 1, n, d}), 0, o.rope_theta).view({n, d});
    auto out = torch::zeros({n, d}, torch::kFloat64);
    const double g = 1.0 / (1.0 + std::exp(-layer->gate[h].item<double>()));
    for (int64_t i = 0; i < n; ++i) {
      // A_dot: causal softmax over tokens 0..i of this segment.
      std::vector<double> scores(i + 1);
      double top = -1e300;
      for (int64_t j = 0; j <= i; ++j) {
        scores[j] = qr[i].dot(kr[j]).item<double>() / std::sqrt(static_cast<double>(d));
        top = std::max(top, scores[j]);
      }
      double total = 0;
      for (auto& s : scores) total += (s = std::exp(s - top));
      auto a_dot = torch::zeros({d}, torch::kFloat64);
      for (int64_t j = 0; j <= i; ++j) a_dot += scores[j] / total * v[j];
      // A_mem = σ(q)·M / (σ(q)·z + ε), raw q (Eq. 7)
      auto sq = q[i].clone();
      for (int64_t c = 0; c < d; ++c) sq[c] = sigma(q[i][c].item<double>());
      auto a_mem = sq.matmul(M[kv]) / (sq.dot(z[kv]).item<double>() + o.memory_eps);
      out[i] = g * a_mem + (1 - g) * a_dot;  // Eq. 10
    }
    heads.push_back(out);
  }
  // Updates after the segment (Eq. 8 / 9), token by token sums.
  for (int64_t kv = 0; kv < o.num_kv_heads; ++kv) {
    auto k = k_all.index({Slice(), Slice(kv * d, (kv + 1) * d)});
    auto v = v_all.index({Slice(), Slice(kv * d, (kv + 1) * d)});
    auto delta_m = torch::zeros({d, d}, torch::kFloat64);
    auto delta_z = torch::zeros({d}, torch::kFloat64);
    for (int64_t t = 0; t < n; ++t) {
      auto sk = k[t].clone();
      for (int64_t c = 0; c < d; ++c) sk[c] = sigma(k[t][c].item<double>());
      auto written = v[t];
      if (o.memory_update == MemoryUpdate::Delta) {
        written = v[t] - sk.matmul(M[kv]) / (sk.dot(z[kv]).item<double>() + o.memory_eps);
      }
      delta_m += torch::outer(sk, written);
      delta_z += sk;
    }
    M[kv] = M[kv] + delta_m;
    z[kv] = z[kv] + delta_z;
  }
  return torch::cat(heads, 1).matmul(layer->o_proj->weight.t());
}

}  // namespace

class MemoryReference : public ::testing::TestWithParam<std::tuple<MemoryUpdate, int64_t>> {};

TEST_P(MemoryReference, MatchesEquationsOverSeveralSegments) {
  const auto [rule, kv_heads] = GetParam();
  torch::manual_seed(7);
  Attention layer(infini_options(rule, 4, kv_heads));
  layer->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    layer->gate.copy_(torch::tensor({-1.5, 0.0, 0.7, 2.0}, torch::kFloat64));
  }
  const int64_t batch = 2, d = 4;
  std::vector<std::vector<torch::Tensor>> M(batch), z(batch);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t kv = 0; kv < kv_heads; ++kv) {
      M[b].push_back(torch::zeros({d, d}, torch::kFloat64));
      z[b].push_back(torch::zeros({d}, torch::kFloat64));
    }
  }
  AttentionState state;
  torch::NoGradGuard no_grad;
  for (int segment = 0; segment < 4; ++segment) {
    auto x = torch::randn({batch, 5, 12}, torch::kFloat64);
    auto [out, next] = layer(x, state);
    for (int64_t b = 0; b < batch; ++b) {
      auto expected = reference_segment(layer, x[b], M[b], z[b]);
      EXPECT_TRUE(torch::allclose(out[b], expected, 1e-10, 1e-12))
          << "segment " << segment << " row " << b << " max error " << (out[b] - expected).abs().max().item<double>();
      for (int64_t kv = 0; kv < kv_heads; ++kv) {
        EXPECT_TRUE(torch::allclose(next.memory.matrix[b][kv], M[b][kv], 1e-10, 1e-12));
        EXPECT_TRUE(torch::allclose(next.memory.normalizer[b][kv], z[b][kv], 1e-10, 1e-12));
      }
    }
    state = next;
  }
}

INSTANTIATE_TEST_SUITE_P(UpdatesAndGroups, MemoryReference,
                         ::testing::Combine(::testing::Values(MemoryUpdate::Linear, MemoryUpdate::Delta),
                                            ::testing::Values(int64_t{4}, int64_t{2}, int64_t{1})));

TEST(Memory, FirstSegmentReadsZero) {
  MemoryState empty = MemoryState::zeros(1, 2, 4, torch::TensorOptions().dtype(torch::kFloat64));
  auto read = memory_retrieve(empty, elu_plus_one(torch::randn({1, 2, 3, 4}, torch::kFloat64)), 1e-6);
  EXPECT_EQ(read.abs().max().item<double>(), 0.0);
}

TEST(Memory, AnEmptyMemoryIsTheZeroMemory) {
  // The shortcut for a document's first segment: the same read, M and z to the bit as reading and
  // writing a zero M and z, and the same gradients to float64 reassociation (one ulp measured:
  // the zero memory's extra terms change the order of the sums), for both rules.
  torch::manual_seed(5);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto q = torch::randn({2, 3, 5, 4}, opts), k = torch::randn({2, 3, 5, 4}, opts);
  const auto v = torch::randn({2, 3, 5, 4}, opts), probe = torch::randn({2, 3, 5, 4}, opts);
  for (auto rule : {MemoryUpdate::Linear, MemoryUpdate::Delta}) {
    std::vector<torch::Tensor> states[2], gradients[2];
    for (int empty = 0; empty < 2; ++empty) {
      auto leaves = std::vector<torch::Tensor>{q.clone().requires_grad_(), k.clone().requires_grad_(),
                                               v.clone().requires_grad_()};
      const auto start = empty ? MemoryState{} : MemoryState::zeros(2, 3, 4, opts);
      auto read = memory_retrieve(start, elu_plus_one(leaves[0]), 1e-6);
      auto next = memory_update(start, elu_plus_one(leaves[1]), leaves[2], rule, 1e-6);
      // A second segment's read of what was written carries the gradient back to K and V.
      auto loss = ((read + memory_retrieve(next, elu_plus_one(leaves[0]), 1e-6)) * probe).sum() +
                  next.matrix.sum() + next.normalizer.pow(2).sum();
      loss.backward();
      states[empty] = {read.detach(), next.matrix.detach(), next.normalizer.detach()};
      for (auto& leaf : leaves) gradients[empty].push_back(leaf.grad());
    }
    EXPECT_EQ(states[1][0].abs().max().item<double>(), 0.0);
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(states[0][i], states[1][i])) << "state " << i;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(torch::allclose(gradients[0][i], gradients[1][i], 1e-14, 1e-14))
          << "rule " << static_cast<int>(rule) << ", gradient " << i;
    }
  }
}

TEST(Memory, DeltaRuleLeavesStoredAssociationUnchanged) {
  // Writing V for keys whose retrieval already returns V changes nothing (Eq. 9's point).
  torch::manual_seed(3);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto sigma_k = elu_plus_one(torch::randn({1, 1, 3, 4}, opts));
  auto state = memory_update(MemoryState::zeros(1, 1, 4, opts), sigma_k, torch::randn({1, 1, 3, 4}, opts),
                             MemoryUpdate::Linear, 1e-6);
  auto retrieved = memory_retrieve(state, sigma_k, 1e-6);
  auto again = memory_update(state, sigma_k, retrieved, MemoryUpdate::Delta, 1e-6);
  EXPECT_TRUE(torch::allclose(again.matrix, state.matrix, 1e-12, 1e-12));
}

TEST(Memory, StaysFloat32UnderBfloat16Compute) {
  torch::manual_seed(4);
  Attention layer(infini_options(MemoryUpdate::Linear, 4, 2));
  layer->to(torch::kBFloat16);
  auto [out, state] = layer(torch::randn({1, 6, 12}).to(torch::kBFloat16), AttentionState{});
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(state.memory.matrix.scalar_type(), torch::kFloat32);
  EXPECT_EQ(state.memory.normalizer.scalar_type(), torch::kFloat32);
}

// Central differences in float64 through three segments: segment 2's output depends on segment
// 0's input only through the memory, so this checks the backward pass of the memory itself.
TEST(MemoryGradient, FiniteDifferencesThroughTwoSegmentsOfMemory) {
  for (auto rule : {MemoryUpdate::Linear, MemoryUpdate::Delta}) {
    torch::manual_seed(11);
    Attention layer(infini_options(rule, 4, 2));
    layer->to(torch::kFloat64);
    std::vector<torch::Tensor> inputs;
    for (int i = 0; i < 3; ++i) inputs.push_back(torch::randn({1, 4, 12}, torch::kFloat64));
    auto weights = torch::randn({1, 4, 12}, torch::kFloat64);
    auto first = inputs[0].clone().requires_grad_(true);
    auto loss_of = [&](const torch::Tensor& x0) {
      AttentionState state;
      torch::Tensor out;
      std::tie(out, state) = layer(x0, state);
      std::tie(out, state) = layer(inputs[1], state);
      std::tie(out, state) = layer(inputs[2], state);
      return (out * weights).sum();  // the last segment only
    };
    layer->zero_grad();
    loss_of(first).backward();
    auto check = [&](const std::string& what, torch::Tensor target, const torch::Tensor& analytic) {
      torch::NoGradGuard no_grad;
      auto flat = target.view({-1});
      auto grads = analytic.reshape({-1});
      for (int64_t i = 0; i < flat.numel(); i += std::max<int64_t>(1, flat.numel() / 7)) {
        const double h = 1e-6, saved = flat[i].item<double>();
        flat[i] = saved + h;
        double up = loss_of(first).item<double>();
        flat[i] = saved - h;
        double down = loss_of(first).item<double>();
        flat[i] = saved;
        double numeric = (up - down) / (2 * h);
        EXPECT_NEAR(grads[i].item<double>(), numeric, 1e-6 + 1e-5 * std::abs(numeric)) << what << "[" << i << "]";
      }
    };
    auto input_grad = first.grad().clone();
    EXPECT_GT(input_grad.abs().max().item<double>(), 1e-6) << "memory must carry gradient to segment 0";
    check("segment 0 input", first, input_grad);
    check("gate", layer->gate, layer->gate.grad().clone());
    check("k_proj", layer->k_proj->weight, layer->k_proj->weight.grad().clone());
    check("v_proj", layer->v_proj->weight, layer->v_proj->weight.grad().clone());
    check("q_proj", layer->q_proj->weight, layer->q_proj->weight.grad().clone());
  }
}
