// Checked entry points of reduce.hpp, and the CPU reference kernels for
// tally_sum, tally_sum_squares and scale_inplace.
#include "recforge/kernels/reduce.hpp"

#include <cstring>

#include "recforge/kernels/rows.hpp"

namespace recforge::kernels {

namespace {

void check_tally_sum_args(const char* op, const TensorView& values, const TensorView& sums, std::int64_t slot) {
  check_dtype(op, values, DType::kF32);
  check_contiguous(op, values);
  check_dtype(op, sums, DType::kI64);
  check_same_device(op, values, sums);
  RF_CHECK(sums.ndim() == 1 && slot >= 0 && slot < sums.numel(), op, ": slot ", slot, " outside sums ", sums.shape.str());
}

}  // namespace

void tally_sum_squares(const Resources& res, const TensorView& values, TensorView sums, std::int64_t slot) {
  check_tally_sum_args("tally_sum_squares", values, sums, slot);
  dispatch<tally_sum_squares_op>(values.device)(res, values, sums, slot);
}

void tally_sum(const Resources& res, const TensorView& values, TensorView sums, std::int64_t slot) {
  check_tally_sum_args("tally_sum", values, sums, slot);
  dispatch<tally_sum_op>(values.device)(res, values, sums, slot);
}

std::vector<double> read_sums(const Resources& res, const TensorView& sums) {
  const std::vector<std::int64_t> slots = read_counts(res, sums);  // the same 8-byte read-back
  std::vector<double> out(slots.size());
  std::memcpy(out.data(), slots.data(), out.size() * sizeof(double));
  return out;
}

namespace {

template <bool kSquares>
void tally_cpu(const Resources&, const TensorView& values, TensorView sums, std::int64_t slot) {
  const float* v = values.data_as<float>();
  double sum = 0;
  for (std::int64_t i = 0; i < values.numel(); ++i) sum += kSquares ? static_cast<double>(v[i]) * v[i] : v[i];
  reinterpret_cast<double*>(sums.data_as<std::int64_t>())[slot] += sum;
}

void scale_inplace_cpu(const Resources&, TensorView values, float factor) {
  float* v = values.data_as<float>();
  for (std::int64_t i = 0; i < values.numel(); ++i) v[i] *= factor;
}

}  // namespace

RF_REGISTER_KERNEL(tally_sum_squares, kCPU, tally_cpu<true>);
RF_REGISTER_KERNEL(tally_sum, kCPU, tally_cpu<false>);
RF_REGISTER_KERNEL(scale_inplace, kCPU, scale_inplace_cpu);

}  // namespace recforge::kernels
