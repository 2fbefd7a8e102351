// Tensor: storage ownership, allocation, and explicit copies between devices.
#include "recforge/core/tensor.hpp"

#include <algorithm>
#include <cstring>

#include "recforge/core/cuda_runtime.hpp"

namespace recforge {

// Owns one allocation; frees it on the stream it was allocated on.
struct Tensor::Storage {
  void* data = nullptr;
  std::size_t bytes = 0;
  Allocator* allocator = nullptr;
  Stream stream;

  Storage(std::size_t bytes, Allocator& allocator, const Stream& stream)
      : data(allocator.allocate(bytes, stream)), bytes(bytes), allocator(&allocator), stream(stream) {}
  ~Storage() { allocator->deallocate(data, bytes, stream); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, const Stream& stream) {
  return empty(shape, dtype, default_allocator(device), stream);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Allocator& allocator, const Stream& stream) {
  Tensor t;
  std::size_t bytes = 0;
  RF_CHECK(!__builtin_mul_overflow(static_cast<std::size_t>(shape.numel()), dtype_size(dtype), &bytes), "a tensor of "
           "shape ", shape.str(), " would take more bytes than a size_t counts");
  t.storage_ = std::make_shared<Storage>(bytes, allocator, stream);
  t.view_ = TensorView(t.storage_->data, dtype, allocator.device(), shape);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device, const Stream& stream) {
  Tensor t = empty(shape, dtype, device, stream);
  if (t.nbytes() == 0) return t;
  if (device.is_cpu()) {
    // Many gradient buffers are zeroed each step (those whose first writer can
    // only add): large ones on all threads (a lone memset leaves the other
    // cores spinning at the next barrier).
    constexpr std::size_t kChunk = std::size_t{1} << 18;
    const std::size_t bytes = t.nbytes();
    auto* base = static_cast<unsigned char*>(t.data());
    const auto chunks = static_cast<std::int64_t>((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks >= 4)
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::size_t begin = static_cast<std::size_t>(c) * kChunk;
      std::memset(base + begin, 0, std::min(kChunk, bytes - begin));
    }
  } else {
    cuda::memset_async(t.data(), 0, t.nbytes(), stream.native());
  }
  return t;
}

Tensor Tensor::wrap(TensorView view) {
  Tensor t;
  t.view_ = view;
  return t;
}

namespace {

cuda::CopyKind copy_kind(Device dst, Device src) {
  if (src.is_cpu()) return dst.is_cpu() ? cuda::CopyKind::kHostToHost : cuda::CopyKind::kHostToDevice;
  return dst.is_cpu() ? cuda::CopyKind::kDeviceToHost : cuda::CopyKind::kDeviceToDevice;
}

// Element-wise strided copy on the host, for any element size.
void strided_copy_host(const TensorView& dst, const TensorView& src) {
  const std::size_t elem = dtype_size(src.dtype);
  const int nd = src.ndim();
  const std::int64_t n = src.numel();
  std::int64_t index[Shape::kMaxDims] = {};
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t src_off = 0, dst_off = 0;
    for (int d = 0; d < nd; ++d) {
      src_off += index[d] * src.strides[d];
      dst_off += index[d] * dst.strides[d];
    }
    std::memcpy(static_cast<char*>(dst.data) + dst_off * static_cast<std::int64_t>(elem),
                static_cast<const char*>(src.data) + src_off * static_cast<std::int64_t>(elem), elem);
    for (int d = nd - 1; d >= 0; --d) {  // odometer increment, last axis fastest
      if (++index[d] < src.shape[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

void Tensor::copy_from(const TensorView& src, const Stream& stream) {
  RF_CHECK(src.dtype == dtype(), "copy_from: dtype ", dtype_name(src.dtype), " into ", dtype_name(dtype()));
  RF_CHECK(src.numel() == numel(), "copy_from: ", src.numel(), " elements into a tensor of ", numel());
  if (numel() == 0) return;
  const bool both_contiguous = src.is_contiguous() && is_contiguous();
  if (src.device.is_cpu() && device().is_cpu()) {
    if (both_contiguous) {
      std::memcpy(data(), src.data, nbytes());
    } else {
      RF_CHECK(src.shape == shape(), "copy_from: strided copy needs equal shapes, got ", src.shape.str(),
               " into ", shape().str());
      strided_copy_host(view_, src);
    }
    return;
  }
  RF_CHECK(both_contiguous, "copy_from: copies to or from a CUDA device need contiguous tensors "
                            "(call contiguous() on the source's device first)");
  cuda::memcpy_async(data(), src.data, nbytes(), copy_kind(device(), src.device), stream.native());
}

Tensor Tensor::to(Device device, const Stream& stream) const {
  const Tensor src = (device.is_cuda() || this->device().is_cuda()) ? contiguous(stream) : *this;
  Tensor out = empty(shape(), dtype(), device, stream);
  out.copy_from(src.view(), stream);
  return out;
}

Tensor Tensor::contiguous(const Stream& stream) const {
  if (is_contiguous()) return *this;
  RF_CHECK(device().is_cpu(), "contiguous() of a strided CUDA tensor is not supported; "
                              "produce it contiguous or copy it to the CPU");
  Tensor out = empty(shape(), dtype(), device(), stream);
  strided_copy_host(out.view_, view_);
  return out;
}

Tensor Tensor::slice_rows(std::int64_t begin, std::int64_t end) const {
  Tensor t = *this;
  t.view_ = view_.slice_rows(begin, end);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  Tensor t = *this;
  t.view_ = view_.reshape(shape);
  return t;
}

Tensor Tensor::transposed() const {
  Tensor t = *this;
  t.view_ = view_.transposed();
  return t;
}

}  // namespace recforge
