// The CUDA runtime calls the core needs, behind opaque pointers. Implemented by
// cuda_backend.cpp in CUDA builds and by cuda_backend_none.cpp otherwise (every
// call then throws "built without CUDA"), so stream.cpp, resources.cpp and the
// allocator are written once for both builds.
#pragma once

#include <cstddef>

namespace recforge::cuda::backend {

void* stream_create(int device);
void stream_destroy(void* stream) noexcept;
void stream_synchronize(int device, void* stream);

void* event_create(int device);
void event_destroy(void* event) noexcept;
void event_record(void* event, void* stream);
void event_synchronize(void* event);
float event_elapsed_ms(void* start, void* end);

void* malloc_async(std::size_t bytes, int device, void* stream);
void free_async(void* ptr, void* stream) noexcept;

void* cublas_create(int device, void* stream);
void cublas_destroy(void* handle) noexcept;
void* cusparse_create(int device, void* stream);
void cusparse_destroy(void* handle) noexcept;

}  // namespace recforge::cuda::backend
