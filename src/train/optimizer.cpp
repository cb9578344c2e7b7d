#include "train/optimizer.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <map>

#include "core/errors.h"
#include "core/vector_math.h"

namespace infini {

namespace {

// One step's scalars, in the arithmetic's order: p·decay; m·beta1 + g·(1 − beta1);
// v·beta2 + (1 − beta2)·g·g; p + step·m / (√v / root2 + eps).
struct Coefficients {
  double decay, beta1, beta2, root2, eps, step;
};

// Elements [0, n) of one parameter in one pass over it, its gradient and its moments, in the
// parameter's type: the same products and sums per element as the op-by-op path below (which
// passes over memory nine times and makes two temporaries), up to the compiler's fused
// multiply-adds. Compiled without errno for √ (CMakeLists.txt), so that it becomes vector code.
template <typename T>
INFINI_INLINE void update_elements(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                                   int64_t n, const Coefficients& c) {
  const T decay = static_cast<T>(c.decay), beta1 = static_cast<T>(c.beta1), rest1 = static_cast<T>(1.0 - c.beta1),
          beta2 = static_cast<T>(c.beta2), rest2 = static_cast<T>(1.0 - c.beta2), root2 = static_cast<T>(c.root2),
          eps = static_cast<T>(c.eps), step = static_cast<T>(c.step);
  for (int64_t i = 0; i < n; ++i) {
    const T grad = g[i];
    const T mean = m[i] * beta1 + grad * rest1;
    const T square = v[i] * beta2 + rest2 * grad * grad;
    m[i] = mean;
    v[i] = square;
    p[i] = p[i] * decay + step * mean / (std::sqrt(square) / root2 + eps);
  }
}

#define INFINI_ADAMW_ELEMENTS(T)                                                                         \
  INFINI_VECTOR_CLONES void update_span(T* p, const T* g, T* m, T* v, int64_t n, const Coefficients& c) { \
    update_elements(p, g, m, v, n, c);                                                                    \
  }
INFINI_ADAMW_ELEMENTS(float)
INFINI_ADAMW_ELEMENTS(double)
#undef INFINI_ADAMW_ELEMENTS

// Whether one pass serves this parameter: on the CPU in float32 or float64, it and its gradient
// and moments contiguous and of one dtype.
bool one_pass_serves(const torch::Tensor& p, const torch::Tensor& grad, const torch::Tensor& m,
                     const torch::Tensor& v) {
  const auto dtype = p.scalar_type();
  if (!p.device().is_cpu() || (dtype != torch::kFloat && dtype != torch::kDouble)) return false;
  for (const auto* t : {&p, &grad, &m, &v}) {
    if (t->scalar_type() != dtype || !t->device().is_cpu() || !t->is_contiguous()) return false;
  }
  return true;
}

void update_in_one_pass(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& m, torch::Tensor& v,
                        const Coefficients& c) {
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "adamw_one_pass", [&] {
    scalar_t *pp = p.data_ptr<scalar_t>(), *mp = m.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>();
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
      update_span(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, c);
    });
  });
}

}  // namespace

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
      const Coefficients c{1.0 - lr * groups_[g].weight_decay, beta1, beta2, std::sqrt(correction2), settings_.eps,
                           -lr / correction1};
      if (one_pass_serves(p, grad, m.exp_avg, m.exp_avg_sq)) {
        update_in_one_pass(p, grad, m.exp_avg, m.exp_avg_sq, c);
        continue;
      }
      p.mul_(c.decay);  // decoupled decay
      m.exp_avg.mul_(beta1).add_(grad, 1.0 - beta1);
      m.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
      auto denominator = (m.exp_avg_sq.sqrt() / c.root2).add_(c.eps);
      p.addcdiv_(m.exp_avg, denominator, c.step);
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
