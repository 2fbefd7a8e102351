// cuda_backend.hpp and cuda_runtime.hpp for builds without CUDA (RECFORGE_CUDA=OFF):
// queries answer "no device", everything else throws a clear error.
#include "cuda_backend.hpp"
#include "recforge/core/cuda_runtime.hpp"
#include "recforge/core/error.hpp"

namespace recforge::cuda {
namespace {
[[noreturn]] void no_cuda() {
  RF_THROW(ErrorKind::kCuda, "this recforge was built without CUDA (RECFORGE_CUDA=OFF or no nvcc found)");
}
}  // namespace

bool compiled_with_cuda() { return false; }
int device_count() { return 0; }
std::string describe_device(int) { return "built without CUDA"; }
void set_device(int) { no_cuda(); }
int current_device() { no_cuda(); }
void device_synchronize(int) { no_cuda(); }
void memcpy_async(void*, const void*, std::size_t, CopyKind, void*) { no_cuda(); }
void memset_async(void*, int, std::size_t, void*) { no_cuda(); }

namespace backend {
void* stream_create(int) { no_cuda(); }
void stream_destroy(void*) noexcept {}
void stream_synchronize(int, void*) { no_cuda(); }
void* event_create(int) { no_cuda(); }
void event_destroy(void*) noexcept {}
void event_record(void*, void*) { no_cuda(); }
void event_synchronize(void*) { no_cuda(); }
float event_elapsed_ms(void*, void*) { no_cuda(); }
void* malloc_async(std::size_t, int, void*) { no_cuda(); }
void free_async(void*, void*) noexcept {}
void* cublas_create(int, void*) { no_cuda(); }
void cublas_destroy(void*) noexcept {}
void* cusparse_create(int, void*) { no_cuda(); }
void cusparse_destroy(void*) noexcept {}
}  // namespace backend
}  // namespace recforge::cuda
