#include "train/bptt.h"

#include "train/segment_checkpoint.h"

namespace infini {

namespace {

// `after` with each row's memory write since `before` counted `weights` ([batch]) times.
ModelState weigh_writes(const ModelState& before, ModelState after, const torch::Tensor& weights) {
  for (size_t l = 0; l < after.layers.size(); ++l) {
    auto& memory = after.layers[l].memory;
    if (!memory.defined()) continue;
    auto weigh = [&](const torch::Tensor& now, const torch::Tensor& then) {  // then + w·(now − then)
      std::vector<int64_t> shape(static_cast<size_t>(now.dim()), 1);
      shape[0] = -1;
      auto w = weights.to(now.options()).view(shape);
      return then.defined() ? then + w * (now - then) : w * now;
    };
    const MemoryState prior = l < before.layers.size() ? before.layers[l].memory : MemoryState{};
    memory = {weigh(memory.matrix, prior.matrix), weigh(memory.normalizer, prior.normalizer)};
  }
  return after;
}

}  // namespace

SequenceLoss sequence_loss(Decoder& model, const torch::Tensor& inputs, const torch::Tensor& targets,
                           const torch::Tensor& starts, ModelState state, const BpttOptions& options,
                           const torch::Tensor& write_weights) {
  const int64_t length = inputs.size(1), segment = options.segment_length;
  TORCH_CHECK(segment > 0 && length % segment == 0, "sequence length ", length, " is not a multiple of the segment ",
              segment);
  const int64_t segments = length / segment;
  // Starts inside a segment would need a memory split mid-segment; the loader aligns them.
  auto inside = starts.view({starts.size(0), segments, segment}).slice(2, 1);
  TORCH_CHECK(!inside.any().item<bool>(), "a document starts inside a segment; align the loader to segments");

  // Without checkpointing, consecutive segments go to the model in one call (as evaluation does,
  // Decoder::segments_per_call) where nothing happens between them: no gradient cut, no row
  // starting a document, no weighted write. Projections, MLPs and the head then run as larger
  // matrix products, and each layer's weights are cast once under autocast instead of per segment.
  const int64_t per_call = options.checkpoint || write_weights.defined() ? 1 : model->segments_per_call(segment);
  // Whether some row starts a document at segment s.
  const auto any_start = starts.view({starts.size(0), segments, segment}).select(2, 0).any(0).to(torch::kCPU);
  auto starts_at = [&](int64_t s) { return any_start[s].item<bool>(); };
  auto joinable = [&](int64_t s) {  // segment s may run in the same call as segment s − 1
    const bool cut = options.bptt_segments > 0 && s % options.bptt_segments == 0;
    return !cut && !starts_at(s);
  };

  SequenceLoss result;
  result.loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(inputs.device()));
  CheckpointedSegments checkpointed(model);
  for (int64_t s = 0; s < segments;) {
    if (options.bptt_segments > 0 && s > 0 && s % options.bptt_segments == 0) state = state.detached();
    if (!state.layers.empty() && starts_at(s)) state = state.reset_rows(starts.select(1, s * segment));
    int64_t count = 1;
    while (count < per_call && s + count < segments && joinable(s + count)) ++count;
    auto tokens = inputs.slice(1, s * segment, (s + count) * segment);
    auto wanted = targets.slice(1, s * segment, (s + count) * segment);
    // The last segment keeps its activations: its backward runs first, so recomputing them would
    // rebuild just what was freed, and keeping them raises the peak no higher than that would.
    const bool recompute = options.checkpoint && s + 1 < segments;
    auto out = recompute ? checkpointed.run(tokens, wanted, state)
                         : run_segment(model, tokens, wanted, state, count);
    result.loss_sum = result.loss_sum + out.loss_sum;
    state = write_weights.defined() ? weigh_writes(state, std::move(out.state), write_weights.select(1, s))
                                    : std::move(out.state);
    s += count;
  }
  result.state = std::move(state);
  return result;
}

}  // namespace infini
