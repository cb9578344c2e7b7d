#include "train/segment_checkpoint.h"

#include <array>
#include <cmath>
#include <optional>

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

torch::Tensor segment_loss(const torch::Tensor& logits, const torch::Tensor& targets) {
  return summed_cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), kIgnoreTarget);
}

}  // namespace

// The head's parameter gradients of the segments whose forward has run and whose backward has not
// settled them yet, summed, and the factor each segment's were settled with.
struct HeadGradients : torch::CustomClassHolder {
  std::vector<torch::Tensor> parameters;  // the head's parameters that require grad
  std::vector<torch::Tensor> pending;     // Σ d(loss_sum)/d(parameter) over `waiting`
  std::vector<int64_t> waiting;
  std::vector<std::optional<double>> settled_with;  // per segment

  int64_t add(const std::vector<torch::Tensor>& gradients) {
    if (pending.empty()) {
      pending = gradients;
    } else {
      for (size_t i = 0; i < pending.size(); ++i) pending[i].add_(gradients[i]);
    }
    waiting.push_back(static_cast<int64_t>(settled_with.size()));
    settled_with.emplace_back();
    return waiting.back();
  }

  // Called by segment `segment`'s backward with its loss's gradient (undefined: the loss is unused).
  void settle(int64_t segment, const torch::Tensor& loss_gradient) {
    const double factor = loss_gradient.defined() ? loss_gradient.item<double>() : 0.0;
    if (!waiting.empty()) {
      torch::NoGradGuard no_grad;
      if (factor != 0.0) {
        for (size_t i = 0; i < parameters.size(); ++i) {
          auto& grad = parameters[i].mutable_grad();
          grad = grad.defined() ? grad.add_(pending[i], factor) : pending[i] * factor;
        }
      }
      for (auto s : waiting) settled_with[static_cast<size_t>(s)] = factor;
      waiting.clear();
      pending.clear();
    }
    const double used = settled_with.at(static_cast<size_t>(segment)).value();
    TORCH_CHECK(std::abs(used - factor) <= 1e-6 * std::max(std::abs(used), std::abs(factor)),
                "checkpointed segments of one sequence must enter the loss with one common factor "
                "(the output head's gradient is summed over them): this segment's is ",
                factor, ", another's ", used);
  }
};

namespace {

// What backward needs besides tensors: the model, the segment's tokens and the state layouts,
// and the gradient of its loss at the layers' output (formed in forward).
struct SegmentClosure : torch::CustomClassHolder {
  Decoder model{nullptr};
  torch::Tensor tokens, targets;
  StateLayout in_layout, out_layout;
  bool autocast = false;  // the recomputation must cast as the forward did
  torch::ScalarType autocast_dtype = torch::kBFloat16;
  c10::intrusive_ptr<HeadGradients> head;
  int64_t segment = 0;       // its index in `head`
  torch::Tensor hidden_grad;  // d(loss_sum)/d(the layers' output)
};

// The segment's loss from the layers' output, backpropagated through the head at once: keeps the
// gradient at the layers' output in the closure and adds the head parameters' to the shared sum.
torch::Tensor head_pass(SegmentClosure& closure, const torch::Tensor& hidden) {
  torch::AutoGradMode enable(true);
  std::vector<torch::Tensor> inputs{hidden.detach().requires_grad_(true)};
  for (const auto& p : closure.head->parameters) inputs.push_back(p);
  auto loss = segment_loss(closure.model->logits(inputs[0]), closure.targets);
  auto gradients = torch::autograd::grad({loss}, inputs);
  closure.hidden_grad = gradients[0];
  closure.segment = closure.head->add({gradients.begin() + 1, gradients.end()});
  return loss.detach();
}

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
    std::pair<torch::Tensor, ModelState> layers;
    {
      torch::NoGradGuard no_grad;
      layers = closure->model->hidden_states(closure->tokens, unflatten(state.vec(), closure->in_layout));
    }
    torch::autograd::variable_list outputs{head_pass(*closure, layers.first)};
    for (auto& t : flatten(layers.second, closure->out_layout)) outputs.push_back(t);
    ctx->saved_data["closure"] = c10::IValue::make_capsule(closure);
    return outputs;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto closure = c10::static_intrusive_pointer_cast<SegmentClosure>(ctx->saved_data["closure"].toCapsule());
    closure->head->settle(closure->segment, grad_outputs[0]);
    std::vector<torch::Tensor> state;
    for (const auto& t : ctx->get_saved_variables()) state.push_back(t.detach().requires_grad_(t.requires_grad()));

    torch::AutoGradMode enable(true);
    std::pair<torch::Tensor, ModelState> layers;
    {
      // Cast as the forward did; the backward itself runs outside autocast, as the outer one does.
      AutocastScope autocast(closure->autocast, closure->autocast_dtype);
      layers = closure->model->hidden_states(closure->tokens, unflatten(state, closure->in_layout));
    }
    StateLayout layout;
    std::vector<torch::Tensor> outputs{layers.first};
    for (auto& t : flatten(layers.second, layout)) outputs.push_back(t);
    // The loss reaches the layers through their output, with the gradient formed in forward.
    grad_outputs[0] = grad_outputs[0].defined() ? closure->hidden_grad * grad_outputs[0] : torch::Tensor();
    closure->hidden_grad = torch::Tensor();

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
    layers = {};

    // One gradient per forward input: none for the closure and the anchor, then the state's.
    torch::autograd::variable_list input_grads{torch::Tensor(), torch::Tensor()};
    for (const auto& t : state) input_grads.push_back(t.requires_grad() ? t.grad() : torch::Tensor());
    return input_grads;
  }
};

}  // namespace

SegmentResult run_segment(Decoder& model, const torch::Tensor& tokens, const torch::Tensor& targets,
                          const ModelState& state, int64_t segments) {
  auto [logits, next] = model->forward(tokens, state, segments);
  return {segment_loss(logits, targets), next};
}

CheckpointedSegments::CheckpointedSegments(Decoder model)
    : model_(std::move(model)), head_(c10::make_intrusive<HeadGradients>()) {
  for (const auto& p : model_->head_parameters()) {
    if (p.requires_grad()) head_->parameters.push_back(p);
  }
}

CheckpointedSegments::~CheckpointedSegments() = default;

SegmentResult CheckpointedSegments::run(const torch::Tensor& tokens, const torch::Tensor& targets,
                                        const ModelState& state) {
  // Without gradients there is nothing to recompute or to form in forward.
  if (!torch::GradMode::is_enabled()) return run_segment(model_, tokens, targets, state);
  auto closure = c10::make_intrusive<SegmentClosure>();
  closure->model = model_;
  closure->tokens = tokens;
  closure->targets = targets;
  closure->autocast = AutocastScope::active();
  closure->autocast_dtype = AutocastScope::dtype();
  closure->head = head_;
  const auto state_tensors = flatten(state, closure->in_layout);
  auto anchor = torch::empty({0}, torch::TensorOptions().device(tokens.device())).requires_grad_(true);
  auto outputs = SegmentFunction::apply(closure, anchor, at::TensorList(state_tensors));
  SegmentResult result;
  result.loss_sum = outputs[0];
  result.state = unflatten({outputs.begin() + 1, outputs.end()}, closure->out_layout);
  return result;
}

}  // namespace infini
