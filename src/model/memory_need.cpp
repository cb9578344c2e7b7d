#include "model/memory_need.h"

#include <algorithm>

#include "core/errors.h"
#include "core/number_format.h"
#include "core/system.h"

namespace infini {

double parameter_count(const ModelConfig& config) {
  const double h = static_cast<double>(config.hidden_size), v = static_cast<double>(config.vocab_size);
  const double d = static_cast<double>(config.resolved_head_dim());
  const double heads = static_cast<double>(config.num_attention_heads);
  const double kv_heads = static_cast<double>(config.num_key_value_heads);
  const double ffn = static_cast<double>(config.intermediate_size);
  double total = v * h + h + (config.tie_word_embeddings ? 0.0 : v * h);  // embeddings, final norm, head
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const bool gated = config.layer_kind(layer) == AttentionKind::Infini;
    total += h * heads * d * 2 + h * kv_heads * d * 2  // q, o; k, v
             + 3 * h * ffn + 2 * h                     // MLP, two norms
             + (gated ? heads : 0.0);                  // one gate per head
  }
  return total;
}

double weight_bytes(const ModelConfig& config) { return 4.0 * parameter_count(config); }

double segment_bytes(const ModelConfig& config, int64_t batch, int64_t segment) {
  const double n = static_cast<double>(segment), b = static_cast<double>(batch);
  double widest = 0.0;
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const double keys = config.layer_kind(layer) == AttentionKind::Xl ? 2 * n : n;
    widest = std::max(widest, b * static_cast<double>(config.num_attention_heads) * n * keys * 4.0);
  }
  return widest + b * n * static_cast<double>(config.vocab_size) * 4.0;
}

double training_bytes(const ModelConfig& config, int64_t batch, int64_t sequence, bool checkpoint_segments) {
  const int64_t segment = config.attention.segment_length;
  const int64_t kept = checkpoint_segments ? 1 : std::max<int64_t>(1, sequence / segment);
  return 4 * weight_bytes(config) + static_cast<double>(kept) * segment_bytes(config, batch, segment);
}

void require_memory(double bytes, const c10::Device& device, const std::string& what) {
  const int64_t available = available_memory_bytes(device);
  if (available < 0 || bytes <= static_cast<double>(available)) return;
  throw InputError(what + " needs at least " + bytes_text(bytes) + "; " + bytes_text(static_cast<double>(available)) +
                   " is available on " + device.str() + (device.is_cuda() ? "" : " (MemAvailable)"));
}

}  // namespace infini
