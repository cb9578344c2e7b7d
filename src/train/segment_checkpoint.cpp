#include "train/segment_checkpoint.h"

#include <array>

#include "core/autocast.h"
#include "data/loader.h"
#include "train/token_loss.h"

namespace infini {

namespace {

// Which of (M, z, keys, values) each layer's state holds, so it can travel as a flat tensor list.
using StateLayout = std::vector<std::array<bool, 4>>;

std::vector<torch::Tensor> flatten(const ModelState& state, StateLayout& layout) {
  std::vector<torch::Tensor> tensors;
  layout.clear();
  for (const auto& layer : state.layers) {
    std::array<torch::Tensor, 4> parts{layer.memory.matrix, layer.memory.normalizer, layer.keys, layer.values};
    std::array<bool, 4> present{};
    for (size_t i = 0; i < parts.size(); ++i) {
      present[i] = parts[i].defined();
      if (present[i]) tensors.push_back(parts[i]);
    }
    layout.push_back(present);
  }
  return tensors;
}

ModelState unflatten(const std::vector<torch::Tensor>& tensors, const StateLayout& layout) {
  ModelState state;
  size_t next = 0;
  for (const auto& present : layout) {
    std::array<torch::Tensor, 4> parts;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (present[i]) parts[i] = tensors.at(next++);
    }
    AttentionState layer;
    layer.memory = {parts[0], parts[1]};
    layer.keys = parts[2];
    layer.values = parts[3];
    state.layers.push_back(layer);
  }
  return state;
}

// What backward needs besides tensors: the model, the segment's tokens and the state layouts.
struct SegmentClosure : torch::CustomClassHolder {
  Decoder model{nullptr};
  torch::Tensor tokens, targets;
  StateLayout in_layout, out_layout;
  bool autocast = false;  // the recomputation must cast as the forward did
  torch::ScalarType autocast_dtype = torch::kBFloat16;
};

// Like PyTorch's reentrant checkpoint: the parameters are not inputs of the node; backward
// recomputes the segment and runs an inner backward that accumulates straight into their .grad.
// (Returning parameter gradients from every segment's node instead kept one full set of them
// alive per segment until the end of the outer backward: peak memory grew with k.)
class SegmentFunction : public torch::autograd::Function<SegmentFunction> {
 public:
  // `state` comes as a TensorList: autograd counts each element as an input only in that form.
  // `anchor` is an empty tensor that requires grad, so the node joins the graph even when no
  // state input does (the first segment, or one after a truncation of the gradient).
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                c10::intrusive_ptr<SegmentClosure> closure,
                                                const torch::Tensor& anchor, at::TensorList state) {
    ctx->save_for_backward(state.vec());
    torch::NoGradGuard no_grad;
    auto result =
        run_segment(closure->model, closure->tokens, closure->targets, unflatten(state.vec(), closure->in_layout));
    torch::autograd::variable_list outputs{result.loss_sum};
    for (auto& t : flatten(result.state, closure->out_layout)) outputs.push_back(t);
    ctx->saved_data["closure"] = c10::IValue::make_capsule(closure);
    return outputs;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto closure = c10::static_intrusive_pointer_cast<SegmentClosure>(ctx->saved_data["closure"].toCapsule());
    std::vector<torch::Tensor> state;
    for (const auto& t : ctx->get_saved_variables()) state.push_back(t.detach().requires_grad_(t.requires_grad()));

    torch::AutoGradMode enable(true);
    SegmentResult result;
    {
      // Cast as the forward did; the backward itself runs outside autocast, as the outer one does.
      AutocastScope autocast(closure->autocast, closure->autocast_dtype);
      result = run_segment(closure->model, closure->tokens, closure->targets, unflatten(state, closure->in_layout));
    }
    StateLayout layout;
    std::vector<torch::Tensor> outputs{result.loss_sum};
    for (auto& t : flatten(result.state, layout)) outputs.push_back(t);

    // Backpropagate only through outputs that carry a gradient and depend on something.
    std::vector<torch::Tensor> roots, root_grads;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (grad_outputs[i].defined() && outputs[i].requires_grad()) {
        roots.push_back(outputs[i]);
        root_grads.push_back(grad_outputs[i]);
      }
    }
    if (!roots.empty()) torch::autograd::backward(roots, root_grads);
    roots.clear();
    outputs.clear();
    result = {};

    // One gradient per forward input: none for the closure and the anchor, then the state's.
    torch::autograd::variable_list input_grads{torch::Tensor(), torch::Tensor()};
    for (const auto& t : state) input_grads.push_back(t.requires_grad() ? t.grad() : torch::Tensor());
    return input_grads;
  }
};

}  // namespace

SegmentResult run_segment(Decoder& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                          const ModelState& state) {
  auto [logits, next] = model->forward(tokens, state);
  auto loss = summed_cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), kIgnoreTarget);
  return {loss, next};
}

SegmentResult run_segment_checkpointed(Decoder& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                                       const ModelState& state) {
  auto closure = c10::make_intrusive<SegmentClosure>();
  closure->model = model;
  closure->tokens = tokens;
  closure->targets = targets;
  closure->autocast = AutocastScope::active();
  closure->autocast_dtype = AutocastScope::dtype();
  const auto state_tensors = flatten(state, closure->in_layout);
  auto anchor = torch::empty({0}, torch::TensorOptions().device(tokens.device())).requires_grad_(true);
  auto outputs = SegmentFunction::apply(closure, anchor, at::TensorList(state_tensors));
  SegmentResult result;
  result.loss_sum = outputs[0];
  result.state = unflatten({outputs.begin() + 1, outputs.end()}, closure->out_layout);
  return result;
}

}  // namespace infini
