#include "distributed/c10d_communicator.h"

#include "core/torch_compat.h"
#ifdef INFINI_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO  // Debian's LibTorch defines it; the wheels' CMake files do not
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef INFINI_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if INFINI_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include <cstdlib>
#include <cstring>

#include "core/errors.h"

namespace infini {

namespace {

int64_t env_integer(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (*end != '\0' || value < 0) throw InputError(std::string(name) + "='" + text + "': expected a non-negative integer");
  return value;
}

// Gradients travel in flat buckets of about this many bytes: one collective per bucket rather
// than per tensor.
constexpr int64_t kBucketBytes = 32 << 20;

// The class a backend's process group derives from: LibTorch 2.x split c10d::Backend (Gloo, NCCL)
// out of c10d::ProcessGroup (which dispatches among backends).
#if INFINI_TORCH_AT_LEAST(2, 0)
using BackendGroup = c10d::Backend;
#else
using BackendGroup = c10d::ProcessGroup;
#endif

class C10dCommunicator final : public Communicator {
 public:
  // `device`: where the collectives' buffers live (the CPU for Gloo, the rank's GPU for NCCL).
  C10dCommunicator(c10::intrusive_ptr<BackendGroup> group, int64_t rank, int64_t world, torch::Device device)
      : group_(std::move(group)), rank_(rank), world_(world), device_(device) {}

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }

  void sum(std::vector<torch::Tensor>& tensors) override {
    in_buckets(tensors, [&](std::vector<torch::Tensor>& flat) { group_->allreduce(flat)->wait(); });
  }

  double sum(double value) override {
    std::vector<torch::Tensor> one{torch::tensor({value}, torch::kFloat64).to(device_)};
    group_->allreduce(one)->wait();
    return one[0].item<double>();
  }

  void broadcast(std::vector<torch::Tensor>& tensors) override {
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    in_buckets(tensors, [&](std::vector<torch::Tensor>& flat) { group_->broadcast(flat, options)->wait(); });
  }

  std::vector<std::string> gather_text(const std::string& text) override {
    // Every rank's text, padded to the longest, in one all-gather of bytes.
    const auto longest = static_cast<int64_t>(max_over_ranks(text.size()));
    auto mine = torch::zeros({longest + 8}, torch::kUInt8);
    auto* bytes = mine.data_ptr<uint8_t>();
    const uint64_t length = text.size();
    std::memcpy(bytes, &length, 8);
    std::memcpy(bytes + 8, text.data(), text.size());
    std::vector<std::vector<torch::Tensor>> outputs(1);
    for (int64_t r = 0; r < world_; ++r) outputs[0].push_back(torch::empty_like(mine));
    std::vector<torch::Tensor> inputs{mine.to(device_)};
    for (auto& t : outputs[0]) t = t.to(device_);
    group_->allgather(outputs, inputs)->wait();
    std::vector<std::string> texts;
    for (auto t : outputs[0]) {
      t = t.cpu();
      uint64_t n = 0;
      std::memcpy(&n, t.data_ptr<uint8_t>(), 8);
      texts.emplace_back(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()) + 8, n);
    }
    return texts;
  }

 private:
  size_t max_over_ranks(size_t value) {
    std::vector<torch::Tensor> one{torch::tensor({static_cast<int64_t>(value)}, torch::kInt64).to(device_)};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    group_->allreduce(one, options)->wait();
    return static_cast<size_t>(one[0].item<int64_t>());
  }

  // Runs `collective` on flat buffers holding consecutive runs of same-dtype tensors, then copies
  // the results back into the tensors.
  template <class F>
  void in_buckets(std::vector<torch::Tensor>& tensors, F collective) {
    size_t first = 0;
    while (first < tensors.size()) {
      size_t last = first;
      int64_t bytes = 0;
      while (last < tensors.size() && tensors[last].scalar_type() == tensors[first].scalar_type() &&
             (last == first || bytes + tensors[last].nbytes() <= kBucketBytes)) {
        bytes += static_cast<int64_t>(tensors[last].nbytes());
        ++last;
      }
      std::vector<torch::Tensor> views;
      for (size_t i = first; i < last; ++i) views.push_back(tensors[i].detach().reshape({-1}));
      std::vector<torch::Tensor> flat{torch::cat(views).to(device_)};
      collective(flat);
      int64_t offset = 0;
      torch::NoGradGuard no_grad;
      for (size_t i = first; i < last; ++i) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(flat[0].slice(0, offset, offset + n).view(tensors[i].sizes()));
        offset += n;
      }
      first = last;
    }
  }

  c10::intrusive_ptr<BackendGroup> group_;
  int64_t rank_, world_;
  torch::Device device_;
};

}  // namespace

std::optional<Rendezvous> rendezvous_from_environment() {
  if (std::getenv("WORLD_SIZE") == nullptr) return std::nullopt;
  Rendezvous r;
  r.world_size = env_integer("WORLD_SIZE", 1);
  r.rank = env_integer("RANK", 0);
  r.local_rank = env_integer("LOCAL_RANK", r.rank);
  if (const char* addr = std::getenv("MASTER_ADDR")) r.master_addr = addr;
  r.port = static_cast<int>(env_integer("MASTER_PORT", 29500));
  if (r.world_size < 1 || r.rank >= r.world_size) {
    throw InputError("RANK=" + std::to_string(r.rank) + " is outside WORLD_SIZE=" + std::to_string(r.world_size));
  }
  if (r.port < 1 || r.port > 65535) throw InputError("MASTER_PORT=" + std::to_string(r.port) + ": expected 1-65535");
  return r;
}

std::shared_ptr<Communicator> connect(const Rendezvous& r, const std::string& backend, const torch::Device& device) {
  const std::string chosen = backend == "auto" ? (device.is_cuda() ? "nccl" : "gloo") : backend;
  if (chosen != "gloo" && chosen != "nccl") {
    throw InputError("distributed backend '" + chosen + "': expected auto, gloo or nccl");
  }
  if (chosen == "nccl" && !device.is_cuda()) throw InputError("distributed backend 'nccl' needs run.device cuda");
#ifndef INFINI_WITH_GLOO
  if (chosen == "gloo") throw InputError("distributed backend 'gloo' is not available in this LibTorch build");
#endif
#ifndef INFINI_WITH_NCCL
  if (chosen == "nccl") throw InputError("distributed backend 'nccl' is not available in this LibTorch build (gloo is)");
#endif
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(r.port);
  options.isServer = r.rank == 0;
  options.numWorkers = static_cast<size_t>(r.world_size);
  options.timeout = std::chrono::seconds(300);
  auto store = c10::make_intrusive<c10d::TCPStore>(r.master_addr, options);
  c10::intrusive_ptr<BackendGroup> group;
#ifdef INFINI_WITH_NCCL
  if (chosen == "nccl") {
    group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(r.rank), static_cast<int>(r.world_size),
                                                        c10d::ProcessGroupNCCL::Options::create());
    return std::make_shared<C10dCommunicator>(group, r.rank, r.world_size, device);
  }
#endif
#ifdef INFINI_WITH_GLOO
  auto gloo = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(600));
  // On one machine everything talks over loopback; across machines each rank binds to its own
  // host's address.
  const bool local = r.master_addr == "127.0.0.1" || r.master_addr == "localhost";
  gloo->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                : c10d::ProcessGroupGloo::createDefaultDevice());
  group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(r.rank), static_cast<int>(r.world_size),
                                                      gloo);
#endif
  return std::make_shared<C10dCommunicator>(group, r.rank, r.world_size, torch::kCPU);
}

}  // namespace infini
