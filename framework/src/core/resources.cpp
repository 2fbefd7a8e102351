// Resources: device, stream, allocator and lazily created library handles.
#include "recforge/core/resources.hpp"

#include <mutex>

#include "cuda_backend.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/error.hpp"

namespace recforge {

struct Resources::LibraryHandles {
  std::once_flag cublas_once, cusparse_once;
  void* cublas = nullptr;
  void* cusparse = nullptr;
  ~LibraryHandles() {
    if (cublas) cuda::backend::cublas_destroy(cublas);
    if (cusparse) cuda::backend::cusparse_destroy(cusparse);
  }
};

Resources Resources::cpu(int num_threads) {
  Resources r;
  r.device_ = Device::cpu();
  r.allocator_ = &host_allocator();
  r.num_threads_ = num_threads;
  return r;
}

Resources Resources::cuda(int index) {
  Resources r;
  r.device_ = Device::cuda(index);
  r.allocator_ = &cuda_allocator(index);  // checks that the device exists
  r.stream_ = Stream::create(r.device_);
  r.handles_ = std::make_shared<LibraryHandles>();
  return r;
}

Resources Resources::for_device(Device device, int num_threads) {
  return device.is_cpu() ? cpu(num_threads) : cuda(device.index);
}

void* Resources::cublas_handle() const {
  RF_CHECK(device_.is_cuda() && handles_, "cublas_handle() needs CUDA resources, these are on ", device_.str());
  std::call_once(handles_->cublas_once,
                 [&] { handles_->cublas = cuda::backend::cublas_create(device_.index, stream_.native()); });
  return handles_->cublas;
}

void* Resources::cusparse_handle() const {
  RF_CHECK(device_.is_cuda() && handles_, "cusparse_handle() needs CUDA resources, these are on ", device_.str());
  std::call_once(handles_->cusparse_once,
                 [&] { handles_->cusparse = cuda::backend::cusparse_create(device_.index, stream_.native()); });
  return handles_->cusparse;
}

}  // namespace recforge
