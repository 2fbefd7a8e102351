// TensorView: a non-owning window on typed memory (pointer, dtype, device, shape,
// strides in elements). Ops and kernels take views; ownership stays with Tensor
// or with whoever wrapped the memory. Copying a view is cheap and copies no data.
#pragma once

#include <cstdint>
#include <span>

#include "recforge/core/device.hpp"
#include "recforge/core/dtype.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/shape.hpp"

namespace recforge {

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Device device = Device::cpu();
  Shape shape;
  Shape strides;  // in elements

  TensorView() = default;
  TensorView(void* data, DType dtype, Device device, Shape shape);
  TensorView(void* data, DType dtype, Device device, Shape shape, Shape strides);

  // A contiguous CPU view of a span (1-d) or with the given shape.
  template <class T>
  static TensorView of(std::span<T> values) {
    return TensorView(const_cast<std::remove_const_t<T>*>(values.data()),
                      dtype_of<std::remove_const_t<T>>, Device::cpu(),
                      Shape{static_cast<std::int64_t>(values.size())});
  }
  template <class T>
  static TensorView of(std::span<T> values, Shape shape) {
    RF_CHECK(shape.numel() == static_cast<std::int64_t>(values.size()), "shape ", shape.str(),
             " has ", shape.numel(), " elements but the span has ", values.size());
    return TensorView(const_cast<std::remove_const_t<T>*>(values.data()),
                      dtype_of<std::remove_const_t<T>>, Device::cpu(), shape);
  }

  int ndim() const { return shape.ndim(); }
  std::int64_t numel() const { return shape.numel(); }
  std::int64_t size(int axis) const { return shape[axis]; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  bool is_contiguous() const;

  // Typed pointer; throws if T does not match the dtype.
  template <class T>
  T* data_as() const {
    RF_CHECK(dtype == dtype_of<T>, "tensor holds ", dtype_name(dtype), ", accessed as ",
             dtype_name(dtype_of<T>));
    return static_cast<T*>(data);
  }
  // Element (i) / (i, j) of a CPU tensor, honouring strides. For tests and references.
  template <class T>
  T& at(std::int64_t i) const {
    return data_as<T>()[i * strides[0]];
  }
  template <class T>
  T& at(std::int64_t i, std::int64_t j) const {
    return data_as<T>()[i * strides[0] + j * strides[1]];
  }

  // Rows [begin, end) along axis 0; shares memory.
  TensorView slice_rows(std::int64_t begin, std::int64_t end) const;
  // Same memory with a new shape; requires a contiguous view.
  TensorView reshape(Shape new_shape) const;
  // Swaps the two axes of a 2-d view (a non-contiguous view of the same memory).
  TensorView transposed() const;
};

// Shape/dtype/device checks with messages that name the argument.
void check_same_device(const char* what, const TensorView& a, const TensorView& b);
void check_shape(const char* what, const TensorView& t, const Shape& expected);
void check_dtype(const char* what, const TensorView& t, DType expected);
void check_contiguous(const char* what, const TensorView& t);

}  // namespace recforge
