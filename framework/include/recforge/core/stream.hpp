// Streams and events. A Stream is the queue work is ordered on: on the CPU it is
// a no-op placeholder (work runs inline), on CUDA it wraps a cudaStream_t held as
// an opaque pointer so that this header needs no CUDA header.
//
// Nothing in recforge synchronises a stream behind the caller's back: copies to
// the host are enqueued, and the caller calls synchronize() before reading.
#pragma once

#include <memory>

#include "recforge/core/device.hpp"

namespace recforge {

class Stream {
 public:
  // The CPU stream: work runs inline, synchronize() is a no-op.
  Stream() = default;
  static Stream cpu() { return Stream(); }
  // The legacy default stream of a CUDA device (not owned).
  static Stream cuda_default(int device);
  // A new non-blocking CUDA stream on `device`, destroyed with the last copy.
  static Stream create(Device device);
  // Wraps a stream created elsewhere (not owned).
  static Stream wrap(Device device, void* cuda_stream);

  Device device() const { return device_; }
  // The cudaStream_t (nullptr for the default stream or the CPU).
  void* native() const { return handle_ ? handle_.get() : raw_; }
  // Blocks the calling thread until all work queued so far has finished.
  void synchronize() const;

 private:
  Device device_ = Device::cpu();
  std::shared_ptr<void> handle_;  // owned stream
  void* raw_ = nullptr;           // borrowed stream
};

// A CUDA event for ordering and timing; on the CPU it records wall-clock time.
class Event {
 public:
  explicit Event(Device device);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(const Stream& stream);
  void synchronize() const;
  // Milliseconds between `start` (recorded earlier) and this event.
  float elapsed_ms_since(const Event& start) const;

 private:
  Device device_;
  void* handle_ = nullptr;  // cudaEvent_t
  double cpu_time_ms_ = 0;
};

}  // namespace recforge
