// TensorView geometry (contiguity, slicing, reshape, transpose) and argument checks.
#include "recforge/core/tensor_view.hpp"

namespace recforge {

TensorView::TensorView(void* data, DType dtype, Device device, Shape shape)
    : data(data), dtype(dtype), device(device), shape(shape), strides(shape.contiguous_strides()) {}

TensorView::TensorView(void* data, DType dtype, Device device, Shape shape, Shape strides)
    : data(data), dtype(dtype), device(device), shape(shape), strides(strides) {
  RF_CHECK(shape.ndim() == strides.ndim(), "shape ", shape.str(), " and strides ", strides.str(),
           " differ in rank");
}

bool TensorView::is_contiguous() const {
  std::int64_t expected = 1;
  for (int i = ndim() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

TensorView TensorView::slice_rows(std::int64_t begin, std::int64_t end) const {
  RF_CHECK(ndim() >= 1, "slice_rows on a 0-d tensor");
  RF_CHECK(0 <= begin && begin <= end && end <= shape[0], "slice_rows [", begin, ", ", end,
           ") is outside [0, ", shape[0], ")");
  TensorView out = *this;
  out.shape[0] = end - begin;
  out.data = static_cast<char*>(data) + begin * strides[0] * static_cast<std::int64_t>(dtype_size(dtype));
  return out;
}

TensorView TensorView::reshape(Shape new_shape) const {
  RF_CHECK(new_shape.numel() == numel(), "cannot reshape ", shape.str(), " (", numel(),
           " elements) to ", new_shape.str(), " (", new_shape.numel(), " elements)");
  check_contiguous("reshape", *this);
  return TensorView(data, dtype, device, new_shape);
}

TensorView TensorView::transposed() const {
  RF_CHECK(ndim() == 2, "transposed() needs a 2-d tensor, got ", ndim(), " dims");
  TensorView out = *this;
  out.shape[0] = shape[1];
  out.shape[1] = shape[0];
  out.strides[0] = strides[1];
  out.strides[1] = strides[0];
  return out;
}

void check_same_device(const char* what, const TensorView& a, const TensorView& b) {
  RF_CHECK(a.device == b.device, what, ": tensors are on different devices (", a.device.str(), " and ",
           b.device.str(), ")");
}

void check_shape(const char* what, const TensorView& t, const Shape& expected) {
  RF_CHECK(t.shape == expected, what, ": expected shape ", expected.str(), ", got ", t.shape.str());
}

void check_dtype(const char* what, const TensorView& t, DType expected) {
  RF_CHECK(t.dtype == expected, what, ": expected dtype ", dtype_name(expected), ", got ",
           dtype_name(t.dtype));
}

void check_contiguous(const char* what, const TensorView& t) {
  RF_CHECK(t.is_contiguous(), what, ": expected a contiguous tensor, got shape ", t.shape.str(),
           " with strides ", t.strides.str());
}

}  // namespace recforge
