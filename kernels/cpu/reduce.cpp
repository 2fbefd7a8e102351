// CPU reference kernels for sum_squares and scale_inplace.
#include "recforge/kernels/reduce.hpp"

namespace recforge::kernels {
namespace {

double sum_squares_cpu(const Resources&, const TensorView& values) {
  const float* v = values.data_as<float>();
  double sum = 0;
  for (std::int64_t i = 0; i < values.numel(); ++i) sum += static_cast<double>(v[i]) * v[i];
  return sum;
}

void scale_inplace_cpu(const Resources&, TensorView values, float factor) {
  float* v = values.data_as<float>();
  for (std::int64_t i = 0; i < values.numel(); ++i) v[i] *= factor;
}

}  // namespace

RF_REGISTER_KERNEL(sum_squares, kCPU, sum_squares_cpu);
RF_REGISTER_KERNEL(scale_inplace, kCPU, scale_inplace_cpu);

}  // namespace recforge::kernels
