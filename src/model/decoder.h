// The Llama-style decoder, in the order the data flows: RMSNorm, SwiGLU MLP, decoder layer
// (pre-norm attention + MLP), the model (embeddings, layers, final norm, LM head).
//
// Parameter names are Hugging Face's (`model.layers.3.self_attn.q_proj.weight`, ...), so
// named_parameters() is the checkpoint's tensor map. One call runs one segment; the per-layer
// attention states go in and come out as values (ModelState).
#pragma once

#include <functional>
#include <torch/torch.h>
#include <vector>

#include "attention/attention.h"
#include "model/model_config.h"

namespace infini {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int64_t layer);
  std::pair<torch::Tensor, AttentionState> forward(const torch::Tensor& x, const AttentionState& state,
                                                   int64_t segments = 1);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// Whether a parameter name is an infini layer's gate β ("model.layers.N.self_attn.gate").
bool is_gate_parameter(const std::string& name);

// The carried state of every layer, batch-first.
struct ModelState {
  std::vector<AttentionState> layers;

  ModelState detached() const;
  ModelState reset_rows(const torch::Tensor& reset) const;
  int64_t bytes() const;
};

class LlamaModelImpl : public torch::nn::Module {
 public:
  explicit LlamaModelImpl(const ModelConfig& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layer_list{nullptr};
  std::vector<DecoderLayer> layers;
  RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaModel);

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);

  // tokens: [batch, length] int64, one segment. Returns logits [batch, length, vocab] and the
  // state to pass with the next segment. A default ModelState{} starts a fresh document.
  // `segments` > 1: tokens hold that many consecutive segments of one length, run as that many
  // calls would run them (models whose layers are all local or infini; see segments_per_call).
  std::pair<torch::Tensor, ModelState> forward(const torch::Tensor& tokens, const ModelState& state,
                                               int64_t segments = 1);
  // forward in its two parts: the layers' output [batch, length, hidden] (before the final norm),
  // then the head (final norm and output projection) that turns it into logits.
  std::pair<torch::Tensor, ModelState> hidden_states(const torch::Tensor& tokens, const ModelState& state,
                                                     int64_t segments = 1);
  torch::Tensor logits(const torch::Tensor& hidden);
  // The head's parameters: the final norm's weight and output_weight().
  std::vector<torch::Tensor> head_parameters() const;
  // How many segments of `segment_length` one forward call should take when the memory is
  // carried: about 2048 tokens' worth where every layer is local or infini, else 1.
  int64_t segments_per_call(int64_t segment_length) const;

  // Scaled-normal initialisation for training from scratch; every gate β = 0 (sigmoid 0.5).
  void initialise(uint64_t seed);
  // Sets every infini layer's gates to `beta`.
  void set_gates(double beta);

  const ModelConfig& config() const { return config_; }
  int64_t parameter_count() const;
  torch::Tensor output_weight() const;

  LlamaModel model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tied to the embeddings

 private:
  ModelConfig config_;
};
TORCH_MODULE(Decoder);

// Runs `tokens` [batch, total] segment by segment, carrying `state`; calls `on_segment` with the
// first index and logits of each call's stretch: one segment, or several (segments_per_call) when
// the memory is carried. With carry_memory false, each segment starts fresh.
void for_each_segment(Decoder& decoder, const torch::Tensor& tokens, int64_t segment_length, ModelState& state,
                      bool carry_memory, const std::function<void(int64_t, const torch::Tensor&)>& on_segment);

// The whole sequence's logits [batch, total, vocab], computed segment by segment.
torch::Tensor forward_sequence(Decoder& decoder, const torch::Tensor& tokens, int64_t segment_length,
                               ModelState& state);

}  // namespace infini
