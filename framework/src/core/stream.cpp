// Stream and Event, written once over cuda_backend.hpp.
#include "recforge/core/stream.hpp"

#include <chrono>

#include "cuda_backend.hpp"

namespace recforge {

Stream Stream::cuda_default(int device) {
  Stream s;
  s.device_ = Device::cuda(device);
  return s;
}

Stream Stream::create(Device device) {
  if (device.is_cpu()) return Stream();
  Stream s;
  s.device_ = device;
  s.handle_ = std::shared_ptr<void>(cuda::backend::stream_create(device.index),
                                    [](void* h) { cuda::backend::stream_destroy(h); });
  return s;
}

Stream Stream::wrap(Device device, void* cuda_stream) {
  Stream s;
  s.device_ = device;
  s.raw_ = cuda_stream;
  return s;
}

void Stream::synchronize() const {
  if (device_.is_cuda()) cuda::backend::stream_synchronize(device_.index, native());
}

Event::Event(Device device) : device_(device) {
  if (device_.is_cuda()) handle_ = cuda::backend::event_create(device_.index);
}

Event::~Event() {
  if (handle_) cuda::backend::event_destroy(handle_);
}

void Event::record(const Stream& stream) {
  if (device_.is_cuda()) {
    cuda::backend::event_record(handle_, stream.native());
  } else {
    cpu_time_ms_ = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now().time_since_epoch()).count();
  }
}

void Event::synchronize() const {
  if (device_.is_cuda()) cuda::backend::event_synchronize(handle_);
}

float Event::elapsed_ms_since(const Event& start) const {
  if (device_.is_cuda()) return cuda::backend::event_elapsed_ms(start.handle_, handle_);
  return static_cast<float>(cpu_time_ms_ - start.cpu_time_ms_);
}

}  // namespace recforge
