// The optimizer of a run, built from train.optimizer and train.trainable: AdamW over three
// groups — matrices (decayed), vectors (norms; not decayed) and the gates β (their own rate and
// decay, see OptimizerSection) — with the parameters train.trainable leaves out frozen.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "model/decoder.h"
#include "train/optimizer.h"

namespace infini {

struct TrainableParameters {
  std::unique_ptr<AdamW> optimizer;
  std::vector<torch::Tensor> tensors;  // in the model's order
};

// Freezes (requires_grad false) what train.trainable excludes; InputError naming `origin` when
// nothing is left to train.
TrainableParameters build_optimizer(Decoder& model, const TrainSection& train, const std::string& origin);

}  // namespace infini
