// Parameter storage: lazy gradient and optimizer-state allocation.
#include "recforge/model/parameter.hpp"

namespace recforge {

Parameter::Parameter(std::string name, Tensor value, Kind kind)
    : name_(std::move(name)), value_(std::move(value)), kind_(kind) {
  RF_CHECK(value_.dtype() == DType::kF32, "parameter ", name_, ": only f32 parameters are supported");
  RF_CHECK(kind_ == Kind::kDense || value_.ndim() == 2, "embedding parameter ", name_, " must be 2-d (rows x D), got ",
           value_.shape().str());
}

Tensor& Parameter::grad() {
  // Without a stream a GPU parameter only hands out its existing gradient:
  // allocating and zeroing it on the legacy default stream would race the
  // step's own (non-blocking) stream.
  const bool allocated = grad_.defined() && grad_.data() != nullptr && grad_.numel() == value_.numel();
  RF_CHECK(value_.device().is_cpu() || allocated, "parameter ", name_, ": a gradient on ", value_.device().str(),
           " is allocated through grad(stream)");
  return grad(Stream());
}

Tensor& Parameter::grad(const Stream& stream) {
  if (!grad_.defined() || grad_.numel() != value_.numel() || grad_.data() == nullptr) {
    grad_ = Tensor::zeros(value_.shape(), DType::kF32, value_.device(), stream);
  }
  return grad_;
}

void Parameter::zero_grad(const Stream& stream) {
  if (kind_ == Kind::kEmbedding) {
    rows_ = SparseRows{};
    return;
  }
  if (grad_.defined() && grad_.numel() > 0) grad_ = Tensor::zeros(value_.shape(), DType::kF32, value_.device(), stream);
}

Tensor& Parameter::state(const std::string& key, const Stream& stream) {
  auto it = state_.find(key);
  if (it == state_.end()) it = state_.emplace(key, Tensor::zeros(value_.shape(), DType::kF32, value_.device(), stream)).first;
  return it->second;
}

}  // namespace recforge
