// Resources: what an op needs besides its tensors (device, stream, allocator,
// library handles, communicator, threads). Ops take `const Resources&` first,
// as RAFT's `raft::resources` does, so every call site passes the same bundle.
#pragma once

#include <memory>

#include "recforge/core/allocator.hpp"
#include "recforge/core/device.hpp"
#include "recforge/core/stream.hpp"

namespace recforge {

class Communicator;

class Resources {
 public:
  // CPU resources using `num_threads` OpenMP threads (0: the OpenMP default).
  static Resources cpu(int num_threads = 0);
  // Resources on CUDA device `index` with a new stream.
  static Resources cuda(int index);
  static Resources for_device(Device device, int num_threads = 0);

  Device device() const { return device_; }
  const Stream& stream() const { return stream_; }
  Allocator& allocator() const { return *allocator_; }
  int num_threads() const { return num_threads_; }
  // cuBLAS handle bound to stream(), created on first use (CUDA only).
  void* cublas_handle() const;
  // cuSPARSE handle bound to stream(), created on first use (CUDA only).
  void* cusparse_handle() const;

  // The communicator of the current job, or nullptr before one is attached.
  Communicator* communicator() const { return communicator_; }
  void set_communicator(Communicator* comm) { communicator_ = comm; }

  void synchronize() const { stream_.synchronize(); }

 private:
  struct LibraryHandles;
  Device device_ = Device::cpu();
  Stream stream_;
  Allocator* allocator_ = nullptr;
  int num_threads_ = 0;
  Communicator* communicator_ = nullptr;
  std::shared_ptr<LibraryHandles> handles_;
};

}  // namespace recforge
