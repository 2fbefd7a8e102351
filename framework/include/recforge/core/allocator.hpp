// Memory allocators with accounting. Every tensor's memory comes from one of:
//   host_allocator()      64-byte aligned host memory
//   cuda_allocator(dev)   stream-ordered cudaMallocAsync from the device's pool
//                         (freed blocks stay cached in the pool for reuse)
// Both keep current and peak byte counters so tests and logs can check memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "recforge/core/device.hpp"

namespace recforge {

class Stream;

struct AllocatorStats {
  std::int64_t current_bytes = 0;   // bytes handed out and not yet freed
  std::int64_t peak_bytes = 0;      // high-water mark of current_bytes since reset_peak()
  std::int64_t allocations = 0;     // number of allocate() calls
  std::int64_t frees = 0;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Device device() const = 0;
  // Returns memory usable on `stream` (for the CPU, any stream). bytes == 0 gives nullptr.
  void* allocate(std::size_t bytes, const Stream& stream);
  // Frees memory from allocate(); stream-ordered on CUDA. Never throws.
  void deallocate(void* ptr, std::size_t bytes, const Stream& stream) noexcept;

  AllocatorStats stats() const;
  void reset_peak();

 protected:
  virtual void* allocate_impl(std::size_t bytes, const Stream& stream) = 0;
  virtual void deallocate_impl(void* ptr, std::size_t bytes, const Stream& stream) noexcept = 0;

 private:
  std::atomic<std::int64_t> current_{0};
  std::atomic<std::int64_t> peak_{0};
  std::atomic<std::int64_t> allocations_{0};
  std::atomic<std::int64_t> frees_{0};
};

inline constexpr std::size_t kHostAlignment = 64;

// The process-wide host allocator.
Allocator& host_allocator();
// The process-wide allocator of CUDA device `index`; throws if CUDA is unavailable.
Allocator& cuda_allocator(int index);
// The default allocator for a device.
Allocator& default_allocator(Device device);

}  // namespace recforge
