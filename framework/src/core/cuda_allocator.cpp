// The per-device CUDA allocator: stream-ordered cudaMallocAsync from the device's
// default memory pool, configured to keep freed blocks cached (see cuda_backend.cpp).
#include <memory>
#include <mutex>
#include <vector>

#include "cuda_backend.hpp"
#include "recforge/core/allocator.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/stream.hpp"

namespace recforge {
namespace {

class CudaAllocator final : public Allocator {
 public:
  explicit CudaAllocator(int index) : index_(index) {}
  Device device() const override { return Device::cuda(index_); }

 protected:
  void* allocate_impl(std::size_t bytes, const Stream& stream) override {
    return cuda::backend::malloc_async(bytes, index_, stream.native());
  }
  void deallocate_impl(void* ptr, std::size_t, const Stream& stream) noexcept override {
    cuda::backend::free_async(ptr, stream.native());
  }

 private:
  int index_;
};

}  // namespace

Allocator& cuda_allocator(int index) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<CudaAllocator>> allocators;
  std::lock_guard lock(mutex);
  const int count = cuda::device_count();
  RF_CHECK_KIND(ErrorKind::kCuda, index >= 0 && index < count, "no CUDA device ", index, " (",
                count, " visible): ", cuda::describe_device(index));
  if (allocators.empty()) allocators.resize(static_cast<std::size_t>(count));
  auto& slot = allocators[static_cast<std::size_t>(index)];
  if (!slot) slot = std::make_unique<CudaAllocator>(index);
  return *slot;
}

}  // namespace recforge
