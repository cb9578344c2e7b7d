// The caching CPU allocator: its size classes, reuse, and a peak that stays flat in the number
// of segments of checkpointed backpropagation through the memory.
#include <gtest/gtest.h>

#include "core/cpu_allocator.h"
#include "test_support.h"
#include "train/bptt.h"

using namespace infini;

TEST(CpuAllocator, SizeClassesAreQuarterPowersOfTwoInWholePages) {
  const size_t mib = size_t{1} << 20;
  const size_t kib = size_t{1} << 10;
  EXPECT_EQ(cpu_allocation_class(1000), 1000u) << "small requests are not rounded";
  EXPECT_EQ(cpu_allocation_class(64 * kib - 1), 64 * kib - 1);
  EXPECT_EQ(cpu_allocation_class(64 * kib), 64 * kib);
  EXPECT_EQ(cpu_allocation_class(64 * kib + 1), 80 * kib);
  EXPECT_EQ(cpu_allocation_class(500 * kib), 512 * kib);
  EXPECT_EQ(cpu_allocation_class(mib), mib);
  EXPECT_EQ(cpu_allocation_class(mib + 1), mib + mib / 4);
  EXPECT_EQ(cpu_allocation_class(3 * mib), 3 * mib);
  EXPECT_EQ(cpu_allocation_class(3 * mib + 1), 3 * mib + mib / 2);
  EXPECT_EQ(cpu_allocation_class(32 * mib - 5), 32 * mib);
  for (size_t bytes = 64 * kib; bytes < 64 * mib; bytes = bytes * 9 / 7 + 12345) {
    const size_t size = cpu_allocation_class(bytes);
    EXPECT_GE(size, bytes);
    EXPECT_LE(size, bytes + bytes / 4 + 4096) << bytes;
    EXPECT_EQ(size % 4096, 0u) << bytes;
  }
}

TEST(CpuAllocator, AFreedBlockServesTheNextRequestOfItsClass) {
  use_caching_cpu_allocator();
  void* first = nullptr;
  {
    auto t = torch::empty({3 << 20}, torch::kUInt8);
    first = t.data_ptr();
    t.fill_(7);
  }
  const auto before = cpu_allocator_stats();
  auto again = torch::empty({(3 << 20) - 100}, torch::kUInt8);  // same class
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(cpu_allocator_stats().fresh_allocations, before.fresh_allocations);
  auto small = torch::ones({10});  // below the cached size: plain malloc, still usable
  EXPECT_EQ(small.sum().item<float>(), 10.0f);
  // A bf16 activation of a small model (4 × 4 heads × 256 × 64 = 512 KiB) is cached too: glibc's
  // heap gave such blocks back and faulted them in again thousands of times a step.
  const auto without = cpu_allocator_stats().allocated_bytes;
  auto activation = torch::empty({4, 4, 256, 64}, torch::kBFloat16);
  EXPECT_EQ(cpu_allocator_stats().allocated_bytes, without + (512 << 10));
}

TEST(CpuAllocator, BlocksFreedByABackwardPassWaitForTheNextStep) {
  // As in a first training step: the forward's activations (more than the cache floor) are freed
  // in backward while gradients of other sizes are asked for; the activations' blocks must still
  // be there for the next step's forward instead of being returned and faulted in again.
  use_caching_cpu_allocator();
  release_cached_cpu_memory();
  {
    std::vector<torch::Tensor> activations;
    for (int i = 0; i < 10; ++i) activations.push_back(torch::empty({30 << 20}, torch::kUInt8));
  }
  const auto after_forward = cpu_allocator_stats();
  EXPECT_GE(after_forward.cached_bytes, int64_t{300} << 20);
  auto gradient = torch::empty({50 << 20}, torch::kUInt8);  // a class the cache does not hold
  std::vector<torch::Tensor> next_step;
  for (int i = 0; i < 10; ++i) next_step.push_back(torch::empty({30 << 20}, torch::kUInt8));
  EXPECT_EQ(cpu_allocator_stats().fresh_allocations, after_forward.fresh_allocations + 1)
      << "only the gradient's block is new";
}

TEST(CpuAllocator, GrowingShapesDoNotPileUpInTheCache) {
  // As a `full` attention cache grows segment by segment: every request is a new size class.
  use_caching_cpu_allocator();
  release_cached_cpu_memory();
  int64_t freed = 0;
  for (int64_t i = 0; i < 60; ++i) {
    const int64_t bytes = (int64_t{8} + 2 * i) << 20;
    torch::empty({bytes}, torch::kUInt8);  // untouched: address space only
    freed += bytes;
  }
  const auto stats = cpu_allocator_stats();
  EXPECT_GT(freed, int64_t{3} << 30);
  EXPECT_LE(stats.cached_bytes, (int64_t{256} + 160) << 20) << "the cache is returned once it outgrows the floor";
}

TEST(CpuAllocator, CheckpointedBackpropagationPeakIsFlatInSegments) {
  use_caching_cpu_allocator();
  // Logits of a segment are 2 × 128 × 4096 floats = 4 MiB, so the segment's temporaries are
  // cached blocks and the allocator's peak measures them.
  auto config = test::tiny_config(AttentionKind::Infini, 128);
  config.vocab_size = 4096;
  Decoder model(config);
  model->initialise(1);
  auto peak_for = [&](int64_t segments) {
    torch::manual_seed(5);
    auto tokens = torch::randint(config.vocab_size, {2, 128 * segments});
    auto targets = torch::randint(config.vocab_size, {2, 128 * segments});
    auto starts = torch::zeros({2, 128 * segments}, torch::kBool);
    BpttOptions options;
    options.segment_length = 128;
    options.checkpoint = true;
    release_cached_cpu_memory();
    reset_cpu_allocator_peak();
    model->zero_grad();
    sequence_loss(model, tokens, targets, starts, ModelState{}, options).loss_sum.backward();
    return cpu_allocator_stats().peak_reserved_bytes;
  };
  const int64_t two = peak_for(2), twelve = peak_for(12);
  EXPECT_GE(two, int64_t{8} << 20) << "the segment's temporaries should come from the cache";
  EXPECT_LE(twelve, two + two / 10) << "peak " << two << " bytes at 2 segments, " << twelve << " at 12";
}
