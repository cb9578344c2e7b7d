// AdamW (decoupled weight decay, bias-corrected moments) over named parameter groups.
//
// Our own rather than torch::optim::AdamW: its state is keyed by tensor addresses, while a
// training checkpoint needs the moments by parameter name (optimizer.safetensors) to resume
// bit for bit. The arithmetic follows torch.optim.AdamW step for step; a test holds the two
// to the same numbers. A contiguous float32 or float64 parameter on the CPU is updated in one
// pass over it, its gradient and its moments (3 ms a step for issue 15's 7.3M parameters in
// `build/bench_profile`, where ATen's op-by-op path took 9-14); anything else takes that path.
#pragma once

#include <string>
#include <torch/torch.h>
#include <vector>

#include "formats/safetensors.h"

namespace infini {

struct AdamWGroup {
  std::string name;
  NamedTensors parameters;
  double lr = 1e-3;  // the peak; each step multiplies it by the schedule's factor
  double weight_decay = 0.0;
};

struct AdamWSettings {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<AdamWGroup> groups, AdamWSettings settings);

  // One update with every group's learning rate scaled by `lr_factor`. Parameters whose .grad is
  // undefined are left alone (their moments too).
  void step(double lr_factor);
  void zero_grad();

  const std::vector<AdamWGroup>& groups() const { return groups_; }
  int64_t steps() const { return steps_; }

  // The moments as "exp_avg.NAME" / "exp_avg_sq.NAME", and the step count, for checkpoints.
  NamedTensors state() const;
  void load_state(const NamedTensors& tensors, int64_t steps, const std::string& origin);

 private:
  struct Moments {
    torch::Tensor exp_avg, exp_avg_sq;
  };
  std::vector<AdamWGroup> groups_;
  std::vector<std::vector<Moments>> moments_;  // per group, per parameter
  AdamWSettings settings_;
  int64_t steps_ = 0;
};

}  // namespace infini
