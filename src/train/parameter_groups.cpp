#include "train/parameter_groups.h"

#include "core/errors.h"

namespace infini {

namespace {

bool is_trainable(const std::string& name, Trainable trainable) {
  switch (trainable) {
    case Trainable::All: return true;
    case Trainable::Attention: return name.find(".self_attn.") != std::string::npos;
    case Trainable::Gates: return is_gate_parameter(name);
  }
  return true;
}

}  // namespace

TrainableParameters build_optimizer(Decoder& model, const TrainSection& train, const std::string& origin) {
  const auto& o = train.optimizer;
  AdamWGroup matrices{"matrices", {}, o.lr, o.weight_decay};
  AdamWGroup vectors{"vectors", {}, o.lr, 0.0};
  AdamWGroup gates{"gates", {}, o.gate_lr, o.gate_weight_decay};
  TrainableParameters out;
  for (const auto& item : model->named_parameters()) {
    const auto& name = item.key();
    if (!is_trainable(name, train.trainable)) {
      item.value().requires_grad_(false);  // frozen: no gradient is computed for it at all
      continue;
    }
    out.tensors.push_back(item.value());
    auto& group = is_gate_parameter(name) ? gates : item.value().dim() >= 2 ? matrices : vectors;
    group.parameters.emplace_back(name, item.value());
  }
  if (out.tensors.empty()) throw InputError(origin + ": train.trainable: the model has no such parameters");
  out.optimizer = std::make_unique<AdamW>(std::vector<AdamWGroup>{matrices, vectors, gates},
                                          AdamWSettings{o.beta1, o.beta2, o.eps});
  return out;
}

}  // namespace infini
