// Checked entry points of reduce.hpp, and the CPU reference kernels for
// tally_sum_squares and scale_inplace.
#include "recforge/kernels/reduce.hpp"

#include <cstring>

#include "recforge/kernels/rows.hpp"

namespace recforge::kernels {

void tally_sum_squares(const Resources& res, const TensorView& values, TensorView sums, std::int64_t slot) {
  check_dtype("tally_sum_squares", values, DType::kF32);
  check_contiguous("tally_sum_squares", values);
  check_dtype("tally_sum_squares sums", sums, DType::kI64);
  check_same_device("tally_sum_squares", values, sums);
  RF_CHECK(sums.ndim() == 1 && slot >= 0 && slot < sums.numel(), "tally_sum_squares: slot ", slot, " outside sums ",
           sums.shape.str());
  dispatch<tally_sum_squares_op>(values.device)(res, values, sums, slot);
}

std::vector<double> read_sums(const Resources& res, const TensorView& sums) {
  const std::vector<std::int64_t> slots = read_counts(res, sums);  // the same 8-byte read-back
  std::vector<double> out(slots.size());
  std::memcpy(out.data(), slots.data(), out.size() * sizeof(double));
  return out;
}

namespace {

void tally_sum_squares_cpu(const Resources&, const TensorView& values, TensorView sums, std::int64_t slot) {
  const float* v = values.data_as<float>();
  double sum = 0;
  for (std::int64_t i = 0; i < values.numel(); ++i) sum += static_cast<double>(v[i]) * v[i];
  reinterpret_cast<double*>(sums.data_as<std::int64_t>())[slot] += sum;
}

void scale_inplace_cpu(const Resources&, TensorView values, float factor) {
  float* v = values.data_as<float>();
  for (std::int64_t i = 0; i < values.numel(); ++i) v[i] *= factor;
}

}  // namespace

RF_REGISTER_KERNEL(tally_sum_squares, kCPU, tally_sum_squares_cpu);
RF_REGISTER_KERNEL(scale_inplace, kCPU, scale_inplace_cpu);

}  // namespace recforge::kernels
