// A caching allocator for large CPU tensors: freed blocks wait in a free list by size class and
// serve the next request of that class, as PyTorch's CUDA allocator does on the GPU.
//
// Why: a training step allocates the same large temporaries segment after segment (logits,
// activations, their gradients). With glibc malloc they come from the heap once glibc has raised
// its mmap threshold, and the holes they leave between long-lived small tensors stay resident,
// so checkpointed BPTT's peak RSS grew with the number of segments; trimming the heap after
// every segment held it flat but cost 27–35% of the throughput in page faults. Cached blocks
// are reused without faulting, and the pool is as large as the most a segment holds at once.
// From 64 KiB, not only the segment-sized ones: glibc trims its heap whenever its top is free,
// and the tensors of a few hundred KiB (a bf16 layer activation here is 512 KiB) were faulted
// in again some 3,000 times a training step on issue 15's model (~13 µs a fault on this VM).
#pragma once

#include <cstddef>
#include <cstdint>

namespace infini {

// Installs the caching allocator as LibTorch's CPU allocator (idempotent). Tensors allocated
// before keep their own deleters, so installing it at any time is safe.
void use_caching_cpu_allocator();

struct CpuAllocatorStats {
  int64_t allocated_bytes = 0;       // held by live tensors (large blocks, rounded to their class)
  int64_t cached_bytes = 0;          // freed blocks kept for reuse
  int64_t peak_reserved_bytes = 0;   // the most allocated + cached has been since the last reset
  int64_t fresh_allocations = 0;     // large requests the cache could not serve
};
CpuAllocatorStats cpu_allocator_stats();
void reset_cpu_allocator_peak();

// Returns every cached block to the system (and starts the live peak that bounds the cache anew).
void release_cached_cpu_memory();

// The size class a large request is rounded up to: four classes per power of two (at most 25%
// more than asked), whole pages. Requests below kCachedMinimumBytes go to malloc unchanged.
constexpr size_t kCachedMinimumBytes = size_t{1} << 16;
size_t cpu_allocation_class(size_t bytes);

}  // namespace infini
