// Footprint figures: the paper's Table 1 formulas for its own configuration, and the formulas
// against the bytes of the state a model really carries.
#include <gtest/gtest.h>

#include "eval/footprint.h"
#include "model/decoder.h"
#include "test_support.h"

using namespace infini;

TEST(Footprint, PaperConfigurationMatchesTable1) {
  // PAPER.md: 12 layers, 8 heads of 128, N = 2048. Infini 128·129·8·12 = 1.59M; XL 256·8·2048·12 = 50.3M.
  ModelConfig paper;
  paper.vocab_size = 32000;
  paper.hidden_size = 1024;
  paper.num_hidden_layers = 12;
  paper.num_attention_heads = 8;
  paper.num_key_value_heads = 8;
  paper.head_dim = 128;
  paper.attention.segment_length = 2048;
  EXPECT_EQ(memory_state_elements(paper), 1585152);
  EXPECT_EQ(kv_cache_elements(paper, 2048), 50331648);
  const auto f = formula_footprint(paper, 32768, 2048, torch::kBFloat16);
  EXPECT_EQ(f.memory_state_bytes, 1585152 * 4);  // float32 whatever the compute dtype
  EXPECT_EQ(f.transformer_xl_bytes, 50331648 * 2);
  EXPECT_EQ(f.kv_cache_bytes_full_attention, 50331648LL * 16 * 2);
  EXPECT_DOUBLE_EQ(f.compression_ratio(), 50331648.0 * 16 * 2 / (1585152.0 * 4));
  // Only infini layers keep a compressive memory.
  paper.attention.layer_kinds.assign(12, AttentionKind::Local);
  paper.attention.layer_kinds[3] = AttentionKind::Infini;
  EXPECT_EQ(memory_state_elements(paper), 128 * 129 * 8);
  paper.attention.layer_kinds.clear();
  paper.attention.kind = AttentionKind::Full;
  EXPECT_EQ(formula_footprint(paper, 4096, 2048, torch::kFloat32).compression_ratio(), 0.0);
}

TEST(Footprint, FormulasEqualTheStateAModelCarries) {
  torch::manual_seed(0);
  for (const auto kind : {AttentionKind::Infini, AttentionKind::Xl}) {
    const auto config = test::tiny_config(kind, 8, 4, 2);
    Decoder decoder(config);
    decoder->initialise(0);
    ModelState state;
    auto tokens = torch::randint(0, config.vocab_size, {1, 8}, torch::kInt64);
    for (int s = 0; s < 3; ++s) state = decoder->forward(tokens, state).second;  // the size does not grow
    const auto f = formula_footprint(config, 100, 8, torch::kFloat32);
    if (kind == AttentionKind::Infini) {
      EXPECT_EQ(state.bytes(), f.memory_state_bytes);
    } else {
      EXPECT_EQ(state.bytes(), f.transformer_xl_bytes);
    }
  }
}
