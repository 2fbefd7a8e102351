// RF_HOST_DEVICE marks functions compiled for both the CPU and the GPU (Philox,
// small math helpers) so the two devices run literally the same code.
#pragma once

#if defined(__CUDACC__)
#define RF_HOST_DEVICE __host__ __device__
#define RF_FORCE_INLINE __forceinline__
#else
#define RF_HOST_DEVICE
#define RF_FORCE_INLINE inline __attribute__((always_inline))
#endif
