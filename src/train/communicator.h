// The seam for data parallelism: what the training loop needs from its peers. Each rank's loss
// is divided by the token count of all ranks, so summing gradients across ranks (before clipping
// and the update) gives the mean over the whole job; rank 0 alone logs and writes checkpoints. One process alone is the identity, below; a c10d-backed
// implementation fills the same interface.
#pragma once

#include <string>
#include <torch/torch.h>
#include <vector>

namespace infini {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  // In place, the sum over ranks of each tensor.
  virtual void sum(std::vector<torch::Tensor>& tensors) = 0;
  // The sum over ranks.
  virtual double sum(double value) = 0;
  // Rank 0's values in every rank's tensors (the initial parameters).
  virtual void broadcast(std::vector<torch::Tensor>& tensors) = 0;
  // Every rank's `text`, in rank order (each rank's loader position, for checkpoints).
  virtual std::vector<std::string> gather_text(const std::string& text) = 0;
  bool is_main() const { return rank() == 0; }
};

class SingleProcess final : public Communicator {
 public:
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  void sum(std::vector<torch::Tensor>&) override {}
  double sum(double value) override { return value; }
  void broadcast(std::vector<torch::Tensor>&) override {}
  std::vector<std::string> gather_text(const std::string& text) override { return {text}; }
};

}  // namespace infini
