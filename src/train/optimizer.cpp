#include "train/optimizer.h"

#include <cmath>
#include <map>

#include "core/errors.h"

namespace infini {

AdamW::AdamW(std::vector<AdamWGroup> groups, AdamWSettings settings)
    : groups_(std::move(groups)), settings_(settings) {
  for (const auto& group : groups_) {
    std::vector<Moments> moments;
    for (const auto& [name, p] : group.parameters) {
      moments.push_back({torch::zeros_like(p, torch::MemoryFormat::Preserve),
                         torch::zeros_like(p, torch::MemoryFormat::Preserve)});
    }
    moments_.push_back(std::move(moments));
  }
}

void AdamW::step(double lr_factor) {
  torch::NoGradGuard no_grad;
  steps_ += 1;
  const double beta1 = settings_.beta1, beta2 = settings_.beta2;
  const double correction1 = 1.0 - std::pow(beta1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(beta2, static_cast<double>(steps_));
  for (size_t g = 0; g < groups_.size(); ++g) {
    const double lr = groups_[g].lr * lr_factor;
    for (size_t i = 0; i < groups_[g].parameters.size(); ++i) {
      auto& p = groups_[g].parameters[i].second;
      const auto& grad = p.grad();
      if (!grad.defined()) continue;
      auto& m = moments_[g][i];
      p.mul_(1.0 - lr * groups_[g].weight_decay);  // decoupled decay
      m.exp_avg.mul_(beta1).add_(grad, 1.0 - beta1);
      m.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
      auto denominator = (m.exp_avg_sq.sqrt() / std::sqrt(correction2)).add_(settings_.eps);
      p.addcdiv_(m.exp_avg, denominator, -lr / correction1);
    }
  }
}

void AdamW::zero_grad() {
  for (auto& group : groups_) {
    for (auto& [name, p] : group.parameters) p.mutable_grad() = torch::Tensor();
  }
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].parameters.size(); ++i) {
      const auto& name = groups_[g].parameters[i].first;
      out.emplace_back("exp_avg." + name, moments_[g][i].exp_avg);
      out.emplace_back("exp_avg_sq." + name, moments_[g][i].exp_avg_sq);
    }
  }
  return out;
}

void AdamW::load_state(const NamedTensors& tensors, int64_t steps, const std::string& origin) {
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].parameters.size(); ++i) {
      const auto& name = groups_[g].parameters[i].first;
      for (auto [key, target] : {std::pair{"exp_avg." + name, &moments_[g][i].exp_avg},
                                 std::pair{"exp_avg_sq." + name, &moments_[g][i].exp_avg_sq}}) {
        auto found = by_name.find(key);
        if (found == by_name.end()) throw InputError(origin + ": no optimizer tensor " + key);
        if (found->second.sizes() != target->sizes()) throw InputError(origin + ": " + key + " has the wrong shape");
        if (!at::isFloatingType(found->second.scalar_type())) {
          throw InputError(origin + ": " + key + " is stored as " + c10::toString(found->second.scalar_type()) +
                           ", expected floating point");
        }
        target->copy_(found->second);
      }
    }
  }
  steps_ = steps;
}

}  // namespace infini
