// The decoder: causality across segment boundaries, state size, and segment-wise running.
#include <gtest/gtest.h>

#include "eval/footprint.h"
#include "model/decoder.h"
#include "test_support.h"

using namespace infini;

class DecoderKinds : public ::testing::TestWithParam<AttentionKind> {};

TEST_P(DecoderKinds, PerturbingATokenNeverChangesEarlierOutputs) {
  torch::manual_seed(1);
  auto config = test::tiny_config(GetParam(), /*segment_length=*/6);
  Decoder model(config);
  model->initialise(3);
  {
    torch::NoGradGuard no_grad;
    for (auto& layer : model->model->layers) {
      if (layer->self_attn->gate.defined()) layer->self_attn->gate.fill_(0.5);
    }
  }
  torch::NoGradGuard no_grad;
  auto tokens = torch::randint(config.vocab_size, {2, 20});
  ModelState s0;
  auto base = forward_sequence(model, tokens, 6, s0);
  for (int64_t t : {0, 5, 6, 13, 19}) {  // inside, at the end and at the start of segments
    auto changed = tokens.clone();
    changed[0][t] = (changed[0][t].item<int64_t>() + 1) % config.vocab_size;
    ModelState s1;
    auto logits = forward_sequence(model, changed, 6, s1);
    EXPECT_TRUE(torch::allclose(logits.slice(1, 0, t), base.slice(1, 0, t), 1e-6, 1e-6)) << "t=" << t;
    EXPECT_FALSE(torch::allclose(logits[0][t], base[0][t], 1e-6, 1e-6)) << "t=" << t << " must change its own logits";
    EXPECT_TRUE(torch::equal(logits[1], base[1])) << "other rows are independent";
  }
}

TEST(Decoder, SeveralSegmentsInOneCallEqualOneCallEach) {
  // Batched projections and local attention, the memory still updated segment by segment: the
  // same logits and state as one call per segment, in float64 up to reassociation.
  for (auto [kind, rule] : {std::pair{AttentionKind::Infini, MemoryUpdate::Delta},
                            std::pair{AttentionKind::Infini, MemoryUpdate::Linear},
                            std::pair{AttentionKind::Local, MemoryUpdate::Linear}}) {
    auto config = test::tiny_config(kind, 5, /*heads=*/4, /*kv_heads=*/2);
    config.attention.memory_update = rule;
    Decoder model(config);
    model->initialise(4);
    model->set_gates(0.7);
    model->to(torch::kFloat64);
    torch::NoGradGuard no_grad;
    torch::manual_seed(6);
    auto tokens = torch::randint(config.vocab_size, {2, 20});
    ModelState one_by_one;
    std::vector<torch::Tensor> pieces;
    for (int64_t s = 0; s < 4; ++s) {
      auto [logits, next] = model->forward(tokens.slice(1, 5 * s, 5 * s + 5), one_by_one);
      pieces.push_back(logits);
      one_by_one = next;
    }
    ModelState first;
    auto [head, middle] = model->forward(tokens.slice(1, 0, 5), first);  // a state going in, too
    auto [together, state] = model->forward(tokens.slice(1, 5, 20), middle, 3);
    auto expected = torch::cat(pieces, 1);
    EXPECT_LT((torch::cat({head, together}, 1) - expected).abs().max().item<double>(), 1e-12);
    for (size_t l = 0; l < state.layers.size(); ++l) {
      if (kind == AttentionKind::Local) continue;
      EXPECT_LT((state.layers[l].memory.matrix - one_by_one.layers[l].memory.matrix).abs().max().item<double>(), 1e-12);
      EXPECT_LT((state.layers[l].memory.normalizer - one_by_one.layers[l].memory.normalizer).abs().max().item<double>(),
                1e-12);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, DecoderKinds,
                         ::testing::Values(AttentionKind::Infini, AttentionKind::Local, AttentionKind::Xl,
                                           AttentionKind::Full),
                         [](const auto& info) { return attention_kind_name(info.param); });

TEST(Decoder, LaterSegmentsSeeEarlierOnesOnlyThroughMemory) {
  // With memory, segment 2's logits depend on segment 0; with local attention they do not.
  for (auto kind : {AttentionKind::Infini, AttentionKind::Local}) {
    Decoder model(test::tiny_config(kind, 5));
    model->initialise(4);
    torch::NoGradGuard no_grad;
    auto tokens = torch::randint(64, {1, 15});
    auto changed = tokens.clone();
    changed[0][1] = (changed[0][1].item<int64_t>() + 7) % 64;
    ModelState a, b;
    auto base = forward_sequence(model, tokens, 5, a).slice(1, 10, 15);
    auto other = forward_sequence(model, changed, 5, b).slice(1, 10, 15);
    if (kind == AttentionKind::Infini) {
      EXPECT_FALSE(torch::allclose(base, other, 1e-7, 1e-7));
    } else {
      EXPECT_TRUE(torch::equal(base, other));
    }
  }
}

TEST(Decoder, MemoryStateSizeIndependentOfDocumentLength) {
  auto config = test::tiny_config(AttentionKind::Infini, 4);
  Decoder model(config);
  model->initialise(0);
  torch::NoGradGuard no_grad;
  ModelState short_state, long_state;
  forward_sequence(model, torch::randint(64, {1, 8}), 4, short_state);
  forward_sequence(model, torch::randint(64, {1, 400}), 4, long_state);
  EXPECT_EQ(short_state.bytes(), long_state.bytes());
  // And it is exactly the paper's d·(d+1)·H·l in float32.
  EXPECT_EQ(long_state.bytes(), memory_state_elements(config) * 4);
  const int64_t d = config.resolved_head_dim();
  EXPECT_EQ(memory_state_elements(config), d * (d + 1) * config.num_key_value_heads * config.num_hidden_layers);
}

TEST(Decoder, ResetRowsStartsThoseRowsFresh) {
  Decoder model(test::tiny_config(AttentionKind::Infini, 4));
  model->initialise(0);
  torch::NoGradGuard no_grad;
  auto first = torch::randint(64, {2, 4}), second = torch::randint(64, {2, 4});
  ModelState state;
  forward_sequence(model, first, 4, state);
  state = state.reset_rows(torch::tensor({true, false}));
  auto [logits, next] = model->forward(second, state);
  auto fresh = model->forward(second.slice(0, 0, 1), ModelState{}).first;
  EXPECT_TRUE(torch::allclose(logits[0], fresh[0], 1e-6, 1e-6));
  ModelState carried;
  forward_sequence(model, first, 4, carried);
  auto kept = model->forward(second, carried).first;
  EXPECT_TRUE(torch::allclose(logits[1], kept[1], 1e-6, 1e-6));
}

TEST(Decoder, TiedEmbeddingsShareTheOutputWeight) {
  auto config = test::tiny_config(AttentionKind::Local);
  config.tie_word_embeddings = true;
  Decoder model(config);
  EXPECT_FALSE(model->lm_head);
  EXPECT_EQ(model->output_weight().data_ptr(), model->model->embed_tokens->weight.data_ptr());
  for (const auto& p : model->named_parameters()) EXPECT_NE(p.key(), "lm_head.weight");
}

TEST(Decoder, ParameterNamesAreHuggingFaces) {
  Decoder model(test::tiny_config(AttentionKind::Infini));
  auto params = model->named_parameters();
  for (const char* name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
                           "model.layers.1.input_layernorm.weight", "model.layers.1.post_attention_layernorm.weight",
                           "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.o_proj.weight",
                           "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.down_proj.weight",
                           "model.layers.0.self_attn.gate"}) {
    EXPECT_TRUE(params.contains(name)) << name;
  }
  EXPECT_EQ(params["model.layers.0.self_attn.gate"].sizes(), torch::IntArrayRef({4}));
}
