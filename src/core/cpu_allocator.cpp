#include "core/cpu_allocator.h"

#include <sys/mman.h>

#include <c10/core/Allocator.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace infini {

namespace {

constexpr size_t kAlignment = 64;  // what LibTorch's own CPU allocator guarantees
constexpr size_t kPage = 4096;
// A miss while the cache holds twice the most the live tensors ever held at once (and at least
// this much) first returns the cache to the system: a change of shapes (training, then
// evaluation; a `full` cache growing segment by segment) then keeps a bounded pool besides the
// live tensors. Measured against the live peak, not the live bytes of the moment: a training
// step's backward frees its activations and asks for gradients of other sizes, and the moment's
// rule returned the activations' blocks there, in the first step, so the second step faulted
// them all in again (3.1 s instead of 1.3 in float32 on issue 15's model). Twice: the blocks
// cached in one step's different phases add up to more than its live peak.
constexpr int64_t kCacheFloorBytes = int64_t{256} << 20;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  // c10::Allocator::allocate is const in LibTorch 1.13 and not in 2.x, which also added the pure
  // copy_data: both spellings are defined, without `override`, so each version finds its own.
  c10::DataPtr allocate(size_t bytes) const {
    if (bytes < kCachedMinimumBytes) {
      void* data = nullptr;
      if (bytes > 0 && posix_memalign(&data, kAlignment, bytes) != 0) throw std::bad_alloc();
      return {data, data, &free_small, c10::Device(c10::DeviceType::CPU)};
    }
    void* data = take(cpu_allocation_class(bytes));
    return {data, data, &free_block, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DataPtr allocate(size_t bytes) { return std::as_const(*this).allocate(bytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  // raw_allocate's blocks carry no size: this deleter finds out which kind each one is.
  c10::DeleterFnPtr raw_deleter() const override { return &free_block; }

  static CachingCpuAllocator& instance() {
    static auto* allocator = new CachingCpuAllocator();  // outlives every static tensor
    return *allocator;
  }

  CpuAllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_reserved_bytes = stats_.allocated_bytes + stats_.cached_bytes;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked();
    most_allocated_ = stats_.allocated_bytes;
  }

 private:
  static void free_small(void* data) { std::free(data); }
  static void free_block(void* data) { instance().give_back(data); }

  void* take(size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& cached = free_[size];
    void* data = nullptr;
    if (!cached.empty()) {
      data = cached.back();
      cached.pop_back();
      stats_.cached_bytes -= static_cast<int64_t>(size);
    } else {
      if (stats_.cached_bytes >= std::max(kCacheFloorBytes, 2 * most_allocated_)) release_locked();
      data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (data == MAP_FAILED) {
        release_locked();  // one more try with nothing cached
        data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (data == MAP_FAILED) throw std::bad_alloc();
      }
      ++stats_.fresh_allocations;
    }
    sizes_[data] = size;
    stats_.allocated_bytes += static_cast<int64_t>(size);
    most_allocated_ = std::max(most_allocated_, stats_.allocated_bytes);
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.allocated_bytes + stats_.cached_bytes);
    return data;
  }

  void give_back(void* data) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = sizes_.find(data);
    if (found == sizes_.end()) {  // a small block, from posix_memalign
      std::free(data);
      return;
    }
    const size_t size = found->second;
    sizes_.erase(found);
    free_[size].push_back(data);
    stats_.allocated_bytes -= static_cast<int64_t>(size);
    stats_.cached_bytes += static_cast<int64_t>(size);
  }

  void release_locked() const {
    for (auto& [size, blocks] : free_) {
      for (void* data : blocks) ::munmap(data, size);
    }
    free_.clear();
    stats_.cached_bytes = 0;
  }

  // Mutable: c10::Allocator::allocate is const.
  mutable std::mutex mutex_;
  mutable std::map<size_t, std::vector<void*>> free_;  // size class → cached blocks
  mutable std::unordered_map<void*, size_t> sizes_;    // live block → its size class
  mutable CpuAllocatorStats stats_;
  mutable int64_t most_allocated_ = 0;  // the live peak since the last explicit release
};

}  // namespace

size_t cpu_allocation_class(size_t bytes) {
  if (bytes < kCachedMinimumBytes) return bytes;
  size_t power = kCachedMinimumBytes;
  while (power * 2 <= bytes) power *= 2;
  const size_t step = power / 4;
  const size_t rounded = (bytes + step - 1) / step * step;
  return (rounded + kPage - 1) / kPage * kPage;
}

void use_caching_cpu_allocator() {
  static std::once_flag installed;
  std::call_once(installed, [] { c10::SetAllocator(c10::DeviceType::CPU, &CachingCpuAllocator::instance()); });
}

CpuAllocatorStats cpu_allocator_stats() { return CachingCpuAllocator::instance().stats(); }

void reset_cpu_allocator_peak() { CachingCpuAllocator::instance().reset_peak(); }

void release_cached_cpu_memory() { CachingCpuAllocator::instance().release(); }

}  // namespace infini
