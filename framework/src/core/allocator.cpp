// Allocator accounting and the host allocator. The CUDA allocator is in
// cuda_allocator.cpp; both share the counters here.
#include "recforge/core/allocator.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "recforge/core/error.hpp"

namespace recforge {

void* Allocator::allocate(std::size_t bytes, const Stream& stream) {
  if (bytes == 0) return nullptr;
  void* ptr = allocate_impl(bytes, stream);
  const auto now = current_.fetch_add(static_cast<std::int64_t>(bytes)) + static_cast<std::int64_t>(bytes);
  allocations_.fetch_add(1);
  std::int64_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  return ptr;
}

void Allocator::deallocate(void* ptr, std::size_t bytes, const Stream& stream) noexcept {
  if (ptr == nullptr) return;
  deallocate_impl(ptr, bytes, stream);
  current_.fetch_sub(static_cast<std::int64_t>(bytes));
  frees_.fetch_add(1);
}

AllocatorStats Allocator::stats() const {
  return AllocatorStats{current_.load(), peak_.load(), allocations_.load(), frees_.load()};
}

void Allocator::reset_peak() { peak_.store(current_.load()); }

namespace {

// Host memory with a cache of freed blocks: a training step allocates the same
// buffers every step, and returning them to the OS each time (glibc unmaps
// large blocks) costs page faults and page clearing on every reuse. Blocks of
// 64 KiB to 64 MiB are rounded up to a size class (eight per power of two, so
// at most 12.5% is wasted: a step's activations are many equal tensors) and
// kept on a free list of that class; the cache holds at most kMaxCachedBytes,
// beyond which blocks go back to the OS. Larger blocks (parameter tables) are
// exact and not cached.
class HostAllocator final : public Allocator {
 public:
  Device device() const override { return Device::cpu(); }
  ~HostAllocator() override {
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) std::free(p);
    }
  }

 protected:
  void* allocate_impl(std::size_t bytes, const Stream&) override {
    const std::size_t size = block_size(bytes);
    if (cached(size)) {
      std::lock_guard lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= size;
        return p;
      }
    }
    void* ptr = std::aligned_alloc(kHostAlignment, size);
    RF_CHECK_KIND(ErrorKind::kIo, ptr != nullptr, "host allocation of ", bytes, " bytes failed (out of memory)");
    return ptr;
  }

  void deallocate_impl(void* ptr, std::size_t bytes, const Stream&) noexcept override {
    const std::size_t size = block_size(bytes);
    if (cached(size)) {
      std::lock_guard lock(mutex_);
      if (cached_bytes_ + size <= kMaxCachedBytes) {
        try {
          free_[size].push_back(ptr);
          cached_bytes_ += size;
          return;
        } catch (...) {  // no memory for the list: give the block back instead
        }
      }
    }
    std::free(ptr);
  }

 private:
  static constexpr std::size_t kMinCachedBlock = std::size_t{64} << 10;
  static constexpr std::size_t kMaxCachedBlock = std::size_t{64} << 20;
  // A SASRec step at batch 128 and L 200 keeps about 1.2 GiB of activations
  // and gradients; the cache must hold a step's worth or every step faults
  // its pages in again.
  static constexpr std::size_t kMaxCachedBytes = std::size_t{4} << 30;

  static bool cached(std::size_t size) { return size >= kMinCachedBlock && size <= kMaxCachedBlock; }
  static std::size_t block_size(std::size_t bytes) {
    const std::size_t aligned = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    // Classes between 2^k and 2^(k+1) in steps of 2^(k-3).
    const std::size_t step = std::max<std::size_t>(kHostAlignment, std::bit_floor(aligned) / 8);
    const std::size_t rounded = (aligned + step - 1) / step * step;
    return cached(rounded) ? rounded : aligned;
  }

  std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
};

}  // namespace

Allocator& host_allocator() {
  static HostAllocator allocator;
  return allocator;
}

Allocator& default_allocator(Device device) {
  return device.is_cpu() ? host_allocator() : cuda_allocator(device.index);
}

}  // namespace recforge
