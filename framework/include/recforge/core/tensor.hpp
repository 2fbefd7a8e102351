// Tensor: an owning (or wrapping) n-d array on the CPU or a CUDA device.
//
//   Tensor a = Tensor::empty({B, D}, DType::kF32);            // CPU, uninitialised
//   Tensor g = a.to(Device::cuda(0), stream);                  // explicit copy, queued on stream
//   Tensor h = g.to(Device::cpu(), stream); stream.synchronize(); // only now read h
//
// Device memory comes from the device's caching allocator; copies are queued on
// the given stream and never synchronise implicitly. Views (view(), slice_rows)
// share the same storage and keep it alive.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "recforge/core/allocator.hpp"
#include "recforge/core/stream.hpp"
#include "recforge/core/tensor_view.hpp"

namespace recforge {

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised memory from `device`'s default allocator, ordered on `stream`.
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu(),
                      const Stream& stream = Stream());
  static Tensor empty(const Shape& shape, DType dtype, Allocator& allocator, const Stream& stream);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu(),
                      const Stream& stream = Stream());
  // A CPU tensor holding a copy of `values`.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<std::int64_t>(values.size())});
  }
  // Wraps memory owned elsewhere; the caller keeps it alive.
  static Tensor wrap(TensorView view);

  // Copies to `device` (always a new tensor, even for the same device), queued on `stream`.
  // A copy to the host is complete only after stream.synchronize().
  Tensor to(Device device, const Stream& stream = Stream()) const;
  // Copies `src` into this tensor (same dtype and numel), queued on `stream`.
  void copy_from(const TensorView& src, const Stream& stream = Stream());
  // A contiguous copy (or this tensor when already contiguous).
  Tensor contiguous(const Stream& stream = Stream()) const;

  const TensorView& view() const { return view_; }
  operator const TensorView&() const { return view_; }  // NOLINT: tensors pass as views
  bool defined() const { return view_.data != nullptr || view_.numel() == 0; }
  bool owns_memory() const { return static_cast<bool>(storage_); }

  void* data() const { return view_.data; }
  template <class T>
  T* data_as() const { return view_.data_as<T>(); }
  template <class T>
  std::span<T> span() const {
    check_contiguous("span()", view_);
    return {view_.data_as<T>(), static_cast<std::size_t>(view_.numel())};
  }
  template <class T>
  std::vector<T> to_vector() const;  // CPU tensors only

  DType dtype() const { return view_.dtype; }
  Device device() const { return view_.device; }
  const Shape& shape() const { return view_.shape; }
  const Shape& strides() const { return view_.strides; }
  int ndim() const { return view_.ndim(); }
  std::int64_t size(int axis) const { return view_.size(axis); }
  std::int64_t numel() const { return view_.numel(); }
  std::size_t nbytes() const { return view_.nbytes(); }
  bool is_contiguous() const { return view_.is_contiguous(); }

  Tensor slice_rows(std::int64_t begin, std::int64_t end) const;
  Tensor reshape(const Shape& shape) const;
  Tensor transposed() const;

 private:
  struct Storage;
  std::shared_ptr<Storage> storage_;
  TensorView view_;
};

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  RF_CHECK(shape.numel() == static_cast<std::int64_t>(values.size()), "from_vector: shape ",
           shape.str(), " needs ", shape.numel(), " values, got ", values.size());
  Tensor t = empty(shape, dtype_of<T>);
  std::copy(values.begin(), values.end(), t.data_as<T>());
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  RF_CHECK(device().is_cpu(), "to_vector() needs a CPU tensor; call to(Device::cpu()) first");
  Tensor c = contiguous();
  const T* p = c.data_as<T>();
  return std::vector<T>(p, p + numel());
}

}  // namespace recforge
