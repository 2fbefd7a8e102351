// CUDA runtime implementation of cuda_backend.hpp and cuda_runtime.hpp.
// Plain host code: compiled by the host compiler against the CUDA runtime API.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>

#include "cuda_backend.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/cuda/check.cuh"

namespace recforge::cuda {

bool compiled_with_cuda() { return true; }

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver"/"no device" status
    return 0;
  }
  return count;
}

std::string describe_device(int index) {
  const int count = device_count();
  if (index < 0 || index >= count) {
    return "no CUDA device " + std::to_string(index) + " (" + std::to_string(count) + " visible)";
  }
  cudaDeviceProp prop{};
  RF_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.totalGlobalMem >> 30) + " GiB)";
}

void set_device(int index) { RF_CUDA_CHECK(cudaSetDevice(index)); }

int current_device() {
  int device = 0;
  RF_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

void device_synchronize(int index) {
  RF_CUDA_CHECK(cudaSetDevice(index));
  RF_CUDA_CHECK(cudaDeviceSynchronize());
}

void memcpy_async(void* dst, const void* src, std::size_t bytes, CopyKind kind, void* stream) {
  cudaMemcpyKind cuda_kind = cudaMemcpyDefault;
  switch (kind) {
    case CopyKind::kHostToHost: cuda_kind = cudaMemcpyHostToHost; break;
    case CopyKind::kHostToDevice: cuda_kind = cudaMemcpyHostToDevice; break;
    case CopyKind::kDeviceToHost: cuda_kind = cudaMemcpyDeviceToHost; break;
    case CopyKind::kDeviceToDevice: cuda_kind = cudaMemcpyDeviceToDevice; break;
  }
  RF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cuda_kind, static_cast<cudaStream_t>(stream)));
}

void memset_async(void* dst, int value, std::size_t bytes, void* stream) {
  RF_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, static_cast<cudaStream_t>(stream)));
}

namespace backend {

void* stream_create(int device) {
  RF_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t stream = nullptr;
  RF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

void stream_destroy(void* stream) noexcept {
  RF_CUDA_CHECK_NOTHROW(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
}

void stream_synchronize(int device, void* stream) {
  if (stream == nullptr) {
    RF_CUDA_CHECK(cudaSetDevice(device));
  }
  RF_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
}

void* event_create(int device) {
  RF_CUDA_CHECK(cudaSetDevice(device));
  cudaEvent_t event = nullptr;
  RF_CUDA_CHECK(cudaEventCreate(&event));
  return event;
}

void event_destroy(void* event) noexcept { RF_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(event))); }

void event_record(void* event, void* stream) {
  RF_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
}

void event_synchronize(void* event) { RF_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

float event_elapsed_ms(void* start, void* end) {
  float ms = 0;
  RF_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
  return ms;
}

void* malloc_async(std::size_t bytes, int device, void* stream) {
  RF_CUDA_CHECK(cudaSetDevice(device));
  // Keep freed blocks in the device's pool instead of returning them to the
  // driver at every synchronisation: this is what makes the allocator "caching".
  static thread_local int configured_device = -1;
  if (configured_device != device) {
    cudaMemPool_t pool = nullptr;
    RF_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    std::uint64_t threshold = UINT64_MAX;
    RF_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
    configured_device = device;
  }
  void* ptr = nullptr;
  const cudaError_t status = cudaMallocAsync(&ptr, bytes, static_cast<cudaStream_t>(stream));
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    RF_THROW(ErrorKind::kCuda, "CUDA out of memory allocating ", bytes, " bytes on device ", device);
  }
  RF_CUDA_CHECK(status);
  return ptr;
}

void free_async(void* ptr, void* stream) noexcept {
  RF_CUDA_CHECK_NOTHROW(cudaFreeAsync(ptr, static_cast<cudaStream_t>(stream)));
}

void* cublas_create(int device, void* stream) {
  RF_CUDA_CHECK(cudaSetDevice(device));
  cublasHandle_t handle = nullptr;
  RF_CUBLAS_CHECK(cublasCreate(&handle));
  RF_CUBLAS_CHECK(cublasSetStream(handle, static_cast<cudaStream_t>(stream)));
  return handle;
}

void cublas_destroy(void* handle) noexcept { cublasDestroy(static_cast<cublasHandle_t>(handle)); }

void* cusparse_create(int device, void* stream) {
  RF_CUDA_CHECK(cudaSetDevice(device));
  cusparseHandle_t handle = nullptr;
  RF_CUSPARSE_CHECK(cusparseCreate(&handle));
  RF_CUSPARSE_CHECK(cusparseSetStream(handle, static_cast<cudaStream_t>(stream)));
  return handle;
}

void cusparse_destroy(void* handle) noexcept { cusparseDestroy(static_cast<cusparseHandle_t>(handle)); }

}  // namespace backend
}  // namespace recforge::cuda
