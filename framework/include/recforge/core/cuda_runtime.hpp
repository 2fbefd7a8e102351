// Host-side questions about CUDA that the rest of the framework asks, answered
// without exposing CUDA headers. All of them work (and say "no") in a build
// without CUDA or on a machine without a GPU.
#pragma once

#include <cstddef>
#include <string>

namespace recforge::cuda {

// True when this build contains CUDA code.
bool compiled_with_cuda();
// Number of usable CUDA devices; 0 when there is no driver or no GPU.
int device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)" or a reason why none is available.
std::string describe_device(int index);
void set_device(int index);
int current_device();
// Waits for everything queued on the device, on every stream (tests and
// shutdown; a training step waits on its own stream only).
void device_synchronize(int index);

// Byte copies between any two devices, ordered on `stream` (a cudaStream_t or nullptr).
enum class CopyKind { kHostToHost, kHostToDevice, kDeviceToHost, kDeviceToDevice };
void memcpy_async(void* dst, const void* src, std::size_t bytes, CopyKind kind, void* stream);
void memset_async(void* dst, int value, std::size_t bytes, void* stream);

}  // namespace recforge::cuda
