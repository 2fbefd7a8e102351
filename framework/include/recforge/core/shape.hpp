// A small fixed-capacity list of dimensions (also used for strides), so that
// shapes never allocate. kMaxDims covers every tensor recforge uses (B, T, H, D).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace recforge {

class Shape {
 public:
  static constexpr int kMaxDims = 6;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);

  int ndim() const { return ndim_; }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t numel() const;
  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + ndim_; }
  void push_back(std::int64_t dim);
  // Row-major (C order) strides, in elements, for this shape.
  Shape contiguous_strides() const;
  std::string str() const;  // "[3, 4]"

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<std::int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

}  // namespace recforge
