// Allocator accounting and the host allocator. The CUDA allocator is in
// cuda_allocator.cpp; both share the counters here.
#include "recforge/core/allocator.hpp"

#include <cstdlib>
#include <new>

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

class HostAllocator final : public Allocator {
 public:
  Device device() const override { return Device::cpu(); }

 protected:
  void* allocate_impl(std::size_t bytes, const Stream&) override {
    const std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    void* ptr = std::aligned_alloc(kHostAlignment, rounded);
    RF_CHECK_KIND(ErrorKind::kIo, ptr != nullptr, "host allocation of ", bytes, " bytes failed (out of memory)");
    return ptr;
  }
  void deallocate_impl(void* ptr, std::size_t, const Stream&) noexcept override { std::free(ptr); }
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
