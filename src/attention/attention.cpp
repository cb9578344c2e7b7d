#include "attention/attention.h"

#include <cmath>

#include "attention/causal_softmax.h"
#include "attention/feature_map.h"
#include "attention/gate_mix.h"
#include "attention/rope.h"
#include "core/autocast.h"
#include "core/batched_matmul.h"
#include "core/fused_linear.h"
#include "core/torch_compat.h"

namespace infini {

std::string attention_kind_name(AttentionKind kind) { return choice_name(kAttentionKindNames, kind); }

std::optional<AttentionKind> parse_attention_kind(const std::string& name) { return choice_value(kAttentionKindNames, name); }

AttentionState AttentionState::detached() const {
  AttentionState out;
  out.memory = memory.detached();
  if (keys.defined()) {
    out.keys = keys.detach();
    out.values = values.detach();
  }
  return out;
}

AttentionState AttentionState::reset_rows(const torch::Tensor& reset) const {
  AttentionState out = *this;
  if (memory.defined()) {
    auto keep = (~reset).to(memory.matrix.options());  // the mask may come from the CPU
    out.memory.matrix = memory.matrix * keep.view({-1, 1, 1, 1});
    out.memory.normalizer = memory.normalizer * keep.view({-1, 1, 1});
  }
  if (keys.defined()) {
    // A row starting a new document must not attend to the previous document's cache. Rows
    // share one cache length, so only a reset of every row (an empty cache) is expressible.
    if (reset.all().item<bool>()) {
      out.keys = torch::Tensor();
      out.values = torch::Tensor();
    } else {
      TORCH_CHECK(!reset.any().item<bool>(),
                  "resetting some rows of an xl/full cache needs per-row lengths; reset all rows");
    }
  }
  return out;
}

int64_t AttentionState::bytes() const {
  int64_t total = memory.bytes();
  if (keys.defined()) total += keys.numel() * keys.element_size() + values.numel() * values.element_size();
  return total;
}

namespace {

// One block of query rows [first, first + rows) against the keys they can see.
torch::Tensor attend_block(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t past,
                           int64_t first, int64_t rows) {
  const int64_t batch = q.size(0), heads = q.size(1), dim = q.size(3);
  const int64_t kv_heads = k.size(1), group = heads / kv_heads;
  const int64_t visible = past + first + rows;  // causal: later keys are never seen by this block
  auto keys = k.slice(2, 0, visible), values = v.slice(2, 0, visible);
  // Query head h reads key/value head h / group (HF's repeat_kv): fold the group into the rows
  // so one batched matmul serves all heads of a group without repeating K or V. The 1/√d scale
  // goes on Q (rows × d) rather than on the scores (rows × keys).
  auto grouped_q = (q.slice(2, first, first + rows) * (1.0 / std::sqrt(static_cast<double>(dim))))
                       .reshape({batch, kv_heads, group * rows, dim});
  auto scores = batched_matmul(grouped_q, keys.transpose(-1, -2)).view({batch, kv_heads, group, rows, visible});
  auto probs = causal_softmax(scores, past + first).to(v.scalar_type());
  return batched_matmul(probs.view({batch, kv_heads, group * rows, visible}), values)
      .view({batch, heads, rows, dim});
}

#if INFINI_TORCH_AT_LEAST(2, 5)
// The same attention through LibTorch 2.x's fused kernels (flash or memory-efficient on CUDA):
// no score matrix in memory at all. SDPA's is_causal aligns the diagonal top-left, which is ours
// only without cached keys; with them (xl, full) the mask is explicit.
torch::Tensor fused_causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     int64_t past) {
  std::optional<torch::Tensor> mask;
  if (past > 0) {
    mask = torch::ones({q.size(2), k.size(2)}, torch::TensorOptions().dtype(torch::kBool).device(q.device()))
               .tril(past);
  }
  return at::scaled_dot_product_attention(q, k, v, mask, 0.0, /*is_causal=*/past == 0, std::nullopt,
                                          /*enable_gqa=*/q.size(1) != k.size(1));
}
#endif

}  // namespace

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t past,
                               int64_t block_rows) {
  // Query rows go in blocks so the score matrix of a block stays a few MiB: long segments then
  // cost no page-faulting multi-hundred-MiB temporaries, and each block skips the keys in its
  // future (half the work of a causal segment).
#if INFINI_TORCH_AT_LEAST(2, 5)
  if (q.is_cuda() && block_rows <= 0) return fused_causal_attention(q, k, v, past);
#endif
  const int64_t length = q.size(2), group = q.size(1) / k.size(1);
  const int64_t keys = k.size(2);
  const int64_t budget = 1 << 20;  // score elements per key/value head and block
  const int64_t block =
      block_rows > 0 ? block_rows : std::max<int64_t>(64, budget / std::max<int64_t>(1, group * keys));
  if (length <= block) return attend_block(q, k, v, past, 0, length);
  std::vector<torch::Tensor> outputs;
  for (int64_t first = 0; first < length; first += block) {
    outputs.push_back(attend_block(q, k, v, past, first, std::min(block, length - first)));
  }
  return torch::cat(outputs, 2);
}

AttentionImpl::AttentionImpl(const AttentionOptions& options) : options_(options) {
  TORCH_CHECK(options.num_heads % options.num_kv_heads == 0, "num_heads must be a multiple of num_kv_heads");
  auto linear = [](int64_t in, int64_t out) { return torch::nn::LinearOptions(in, out).bias(false); };
  const int64_t q_width = options.num_heads * options.head_dim;
  const int64_t kv_width = options.num_kv_heads * options.head_dim;
  q_proj = register_module("q_proj", torch::nn::Linear(linear(options.hidden_size, q_width)));
  k_proj = register_module("k_proj", torch::nn::Linear(linear(options.hidden_size, kv_width)));
  v_proj = register_module("v_proj", torch::nn::Linear(linear(options.hidden_size, kv_width)));
  o_proj = register_module("o_proj", torch::nn::Linear(linear(q_width, options.hidden_size)));
  if (options.kind == AttentionKind::Infini) {
    gate = register_parameter("gate", torch::zeros({options.num_heads}));
  }
}

torch::Tensor AttentionImpl::gate_values() const {
  if (!gate.defined()) return {};
  return torch::sigmoid(gate.detach().to(torch::kFloat32));
}

std::pair<torch::Tensor, AttentionState> AttentionImpl::forward(const torch::Tensor& input,
                                                                const AttentionState& state, int64_t segments) {
  const auto& o = options_;
  TORCH_CHECK(segments >= 1 && input.size(1) % segments == 0, "attention: ", input.size(1),
              " positions do not split into ", segments, " equal segments");
  TORCH_CHECK(segments == 1 || o.kind == AttentionKind::Infini || o.kind == AttentionKind::Local,
              "attention: only local and infini layers take several segments in one call");
  // Each segment is a row of its own for everything but the memory: [batch · segments, length].
  const int64_t batch = input.size(0), length = input.size(1) / segments, rows = batch * segments;
  auto x = input.reshape({rows, length, input.size(2)});
  auto heads_first = [&](const torch::Tensor& t, int64_t heads) {
    return t.view({rows, length, heads, o.head_dim}).transpose(1, 2);
  };
  auto qkv = fused_linear(x, {q_proj->weight, k_proj->weight, v_proj->weight});
  auto q = heads_first(qkv[0], o.num_heads);      // [B, H, N, d]
  auto k = heads_first(qkv[1], o.num_kv_heads);   // [B, Hkv, N, d]
  auto v = heads_first(qkv[2], o.num_kv_heads);

  AttentionState next;
  auto keys = k, values = v;
  int64_t past = 0;
  if ((o.kind == AttentionKind::Xl || o.kind == AttentionKind::Full) && state.keys.defined()) {
    keys = torch::cat({state.keys, k}, 2);
    values = torch::cat({state.values, v}, 2);
    past = state.keys.size(2);
  }
  if (o.kind == AttentionKind::Xl) {
    next.keys = k.detach();  // Transformer-XL: no gradient into the cache
    next.values = v.detach();
  } else if (o.kind == AttentionKind::Full) {
    next.keys = keys;
    next.values = values;
  }
  // Local part: RoPE positions 0.. over the keys this segment sees (for infini/local just the
  // segment; for xl the cached segment first; for full the whole document).
  auto local = causal_attention(apply_rope(q, past, o.rope_theta), apply_rope(keys, 0, o.rope_theta), values,
                                past);

  const int64_t width = o.num_heads * o.head_dim;
  if (o.kind != AttentionKind::Infini) {
    return {o_proj(local.transpose(1, 2).reshape({batch, segments * length, width})), next};
  }

  torch::Tensor from_memory;  // [rows, H, N, d]
  {
    // The memory sees raw Q and K (no RoPE) and runs in float32 whatever the compute dtype,
    // autocast included: bf16 sums of σ(K)ᵀV over long documents overflow or stall.
    AutocastScope full_precision(false);
    const auto memory_dtype = accumulation_dtype(x.scalar_type());
    auto memory = state.memory;  // empty at a document's start: no arithmetic on zeros
    const int64_t group = o.num_heads / o.num_kv_heads;
    auto sigma_q =
        elu_plus_one(q, memory_dtype).view({batch, segments, o.num_kv_heads, group * length, o.head_dim});
    auto sigma_k = elu_plus_one(k, memory_dtype).view({batch, segments, o.num_kv_heads, length, o.head_dim});
    auto memory_v = v.to(memory_dtype).view({batch, segments, o.num_kv_heads, length, o.head_dim});
    std::vector<torch::Tensor> reads;
    for (int64_t s = 0; s < segments; ++s) {  // the memory alone runs segment by segment
      reads.push_back(memory_retrieve(memory, sigma_q.select(1, s), o.memory_eps));  // Eq. 7, before the update
      memory = memory_update(memory, sigma_k.select(1, s), memory_v.select(1, s), o.memory_update, o.memory_eps);
    }
    next.memory = memory;
    from_memory =
        (segments == 1 ? reads[0] : torch::stack(reads, 1)).view({rows, o.num_heads, length, o.head_dim});
  }
  if (record_mix) {
    const auto weight = torch::sigmoid(gate.detach()).to(from_memory.scalar_type()).view({o.num_heads, 1});
    auto norm_at_last = [&](const torch::Tensor& share, const torch::Tensor& t) {  // [H, d] → [H]
      return (share * t.detach().select(0, rows - 1).select(1, length - 1)).norm(2, -1).to(torch::kCPU, torch::kFloat64);
    };
    last_mix = {norm_at_last(weight, from_memory), norm_at_last(1 - weight, local)};
  }
  auto mixed = gate_mix(gate, from_memory, local);  // Eq. 10
  return {o_proj(mixed.view({batch, segments * length, width})), next};
}

}  // namespace infini
