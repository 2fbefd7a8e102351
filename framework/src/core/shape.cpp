// Shape: fixed-capacity dimension list.
#include "recforge/core/shape.hpp"

#include "recforge/core/error.hpp"

namespace recforge {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  RF_CHECK(dims.size() <= kMaxDims, "a shape has at most ", kMaxDims, " dims, got ", dims.size());
  for (std::int64_t d : dims) push_back(d);
}

void Shape::push_back(std::int64_t dim) {
  RF_CHECK(ndim_ < kMaxDims, "a shape has at most ", kMaxDims, " dims");
  RF_CHECK(dim >= 0, "dimension ", ndim_, " is negative (", dim, ")");
  dims_[static_cast<std::size_t>(ndim_++)] = dim;
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) {
    // (Dims are >= 0; a product past int64 would allocate a wrapped size.)
    RF_CHECK(!__builtin_mul_overflow(n, dims_[static_cast<std::size_t>(i)], &n), "shape ", str(),
             " has more elements than an int64 counts");
  }
  return n;
}

Shape Shape::contiguous_strides() const {
  Shape strides = *this;
  std::int64_t stride = 1;
  for (int i = ndim_ - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= dims_[static_cast<std::size_t>(i)];
  }
  return strides;
}

std::string Shape::str() const {
  std::string out = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) out += ", ";
    out += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return out + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.ndim_ != b.ndim_) return false;
  for (int i = 0; i < a.ndim_; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace recforge
