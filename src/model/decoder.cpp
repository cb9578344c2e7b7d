#include "model/decoder.h"

#include <cmath>

#include "core/autocast.h"
#include "core/fused_linear.h"
#include "core/rms_norm.h"
#include "core/swiglu.h"
#include "model/memory_need.h"

namespace infini {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // Every norm's output goes straight into a matrix multiply (q/k/v, gate/up, the output head),
  // which under bfloat16 autocast casts it to bfloat16 first: rounding it there is the same
  // result, one pass fewer each way.
  return rms_norm(x, weight, eps_, AutocastScope::matmul_cast(x).value_or(torch::result_type(weight, x)));
}

MlpImpl::MlpImpl(int64_t hidden, int64_t intermediate) {
  auto linear = [](int64_t in, int64_t out) { return torch::nn::LinearOptions(in, out).bias(false); };
  gate_proj = register_module("gate_proj", torch::nn::Linear(linear(hidden, intermediate)));
  up_proj = register_module("up_proj", torch::nn::Linear(linear(hidden, intermediate)));
  down_proj = register_module("down_proj", torch::nn::Linear(linear(intermediate, hidden)));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(swiglu(joined_linear(x, {gate_proj->weight, up_proj->weight})));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config, int64_t layer) {
  input_layernorm = register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(config.attention_options(layer)));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  mlp = register_module("mlp", Mlp(config.hidden_size, config.intermediate_size));
}

std::pair<torch::Tensor, AttentionState> DecoderLayerImpl::forward(const torch::Tensor& x,
                                                                   const AttentionState& state, int64_t segments) {
  auto [attended, next] = self_attn(input_layernorm(x), state, segments);
  auto h = x + attended;
  return {h + mlp(post_attention_layernorm(h)), next};
}

ModelState ModelState::detached() const {
  ModelState out;
  for (const auto& layer : layers) out.layers.push_back(layer.detached());
  return out;
}

ModelState ModelState::reset_rows(const torch::Tensor& reset) const {
  ModelState out;
  for (const auto& layer : layers) out.layers.push_back(layer.reset_rows(reset));
  return out;
}

int64_t ModelState::bytes() const {
  int64_t total = 0;
  for (const auto& layer : layers) total += layer.bytes();
  return total;
}

LlamaModelImpl::LlamaModelImpl(const ModelConfig& config) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(config.vocab_size, config.hidden_size));
  layer_list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers.push_back(DecoderLayer(config, i));
    layer_list->push_back(layers.back());
  }
  norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps));
}

DecoderImpl::DecoderImpl(const ModelConfig& config) : config_(config) {
  require_memory(weight_bytes(config) + segment_bytes(config, 1, config.attention.segment_length), torch::kCPU,
                 fmt::format("a model of {:.3g} parameters with one segment of {} tokens", infini::parameter_count(config),
                             config.attention.segment_length));
  model = register_module("model", LlamaModel(config));
  if (!config.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config.hidden_size, config.vocab_size).bias(false)));
  }
}

torch::Tensor DecoderImpl::output_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

std::pair<torch::Tensor, ModelState> DecoderImpl::forward(const torch::Tensor& tokens, const ModelState& state,
                                                          int64_t segments) {
  auto [hidden, next] = hidden_states(tokens, state, segments);
  return {logits(hidden), std::move(next)};
}

std::pair<torch::Tensor, ModelState> DecoderImpl::hidden_states(const torch::Tensor& tokens,
                                                                const ModelState& state, int64_t segments) {
  const auto n_layers = model->layers.size();
  TORCH_CHECK(state.layers.empty() || state.layers.size() == n_layers, "state has ", state.layers.size(),
              " layers, the model ", n_layers);
  auto h = model->embed_tokens(tokens);
  ModelState next;
  next.layers.reserve(n_layers);
  for (size_t i = 0; i < n_layers; ++i) {
    auto [out, layer_state] =
        model->layers[i](h, state.layers.empty() ? AttentionState{} : state.layers[i], segments);
    h = out;
    next.layers.push_back(std::move(layer_state));
  }
  return {h, next};
}

torch::Tensor DecoderImpl::logits(const torch::Tensor& hidden) {
  return torch::matmul(model->norm(hidden), output_weight().t());
}

std::vector<torch::Tensor> DecoderImpl::head_parameters() const { return {model->norm->weight, output_weight()}; }

void DecoderImpl::initialise(uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  const double std = 0.02;
  // Residual-branch outputs are scaled down by √(2·layers) so the residual stream's variance
  // stays put as depth grows (GPT-2's initialisation).
  const double residual_std = std / std::sqrt(2.0 * static_cast<double>(config_.num_hidden_layers));
  for (auto& item : named_parameters()) {
    const auto& name = item.key();
    auto& p = item.value();
    auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with("layernorm.weight") || ends_with("norm.weight")) {
      p.fill_(1.0);
    } else if (is_gate_parameter(name)) {
      p.fill_(0.0);
    } else if (ends_with("o_proj.weight") || ends_with("down_proj.weight")) {
      p.normal_(0.0, residual_std);
    } else {
      p.normal_(0.0, std);
    }
  }
}

void DecoderImpl::set_gates(double beta) {
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    if (is_gate_parameter(item.key())) item.value().fill_(beta);
  }
}

bool is_gate_parameter(const std::string& name) {
  const std::string suffix = ".self_attn.gate";
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t DecoderImpl::parameter_count() const {
  int64_t total = 0;
  for (const auto& p : parameters()) total += p.numel();
  return total;
}

int64_t DecoderImpl::segments_per_call(int64_t segment_length) const {
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const auto kind = config_.attention_options(i).kind;
    if (kind != AttentionKind::Local && kind != AttentionKind::Infini) return 1;
  }
  // Larger products run closer to the machine's matmul rate; the logits of a call are the cost.
  return std::max<int64_t>(1, 2048 / std::max<int64_t>(1, segment_length));
}

void for_each_segment(Decoder& decoder, const torch::Tensor& tokens, int64_t segment_length, ModelState& state,
                      bool carry_memory, const std::function<void(int64_t, const torch::Tensor&)>& on_segment) {
  const int64_t total = tokens.size(1);
  const int64_t per_call = carry_memory ? decoder->segments_per_call(segment_length) : 1;
  for (int64_t start = 0; start < total;) {
    // Whole segments together; a last partial segment goes alone.
    const int64_t segments = std::max<int64_t>(1, std::min(per_call, (total - start) / segment_length));
    const int64_t end = std::min(total, start + segments * segment_length);
    auto [logits, next] =
        decoder->forward(tokens.slice(1, start, end), carry_memory ? state : ModelState{}, segments);
    state = std::move(next);
    on_segment(start, logits);
    start = end;
  }
}

torch::Tensor forward_sequence(Decoder& decoder, const torch::Tensor& tokens, int64_t segment_length,
                               ModelState& state) {
  std::vector<torch::Tensor> pieces;
  for_each_segment(decoder, tokens, segment_length, state, true,
                   [&](int64_t, const torch::Tensor& logits) { pieces.push_back(logits); });
  return torch::cat(pieces, 1);
}

}  // namespace infini
