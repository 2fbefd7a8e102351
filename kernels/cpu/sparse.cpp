// CPU reference of spmm (see sparse.hpp): rows in parallel, each row's entries
// in order, the D-length axpy vectorised.
#include "recforge/kernels/sparse.hpp"

#include <algorithm>

namespace recforge::kernels {
namespace {

void spmm_cpu(const Resources&, const CsrView& a, const TensorView& x, TensorView y, bool accumulate) {
  const std::int64_t* off = a.offsets.data_as<std::int64_t>();
  const std::int32_t* col = a.columns.data_as<std::int32_t>();
  const float* val = a.values.data_as<float>();
  const float* in = x.data_as<float>();
  float* out = y.data_as<float>();
  const std::int64_t d = x.shape[1];
#pragma omp parallel for schedule(dynamic, 256) if (a.rows * d > (std::int64_t{1} << 16))
  for (std::int64_t r = 0; r < a.rows; ++r) {
    float* row = out + r * d;
    if (!accumulate) std::fill(row, row + d, 0.0f);
    for (std::int64_t k = off[r]; k < off[r + 1]; ++k) {
      const float v = val[k];
      const float* src = in + static_cast<std::int64_t>(col[k]) * d;
#pragma omp simd
      for (std::int64_t c = 0; c < d; ++c) row[c] += v * src[c];
    }
  }
}

}  // namespace

void spmm(const Resources& res, const CsrView& a, const TensorView& x, TensorView y, bool accumulate) {
  check_dtype("spmm offsets", a.offsets, DType::kI64);
  check_dtype("spmm columns", a.columns, DType::kI32);
  check_dtype("spmm values", a.values, DType::kF32);
  check_dtype("spmm x", x, DType::kF32);
  check_dtype("spmm y", y, DType::kF32);
  check_contiguous("spmm x", x);
  check_contiguous("spmm y", y);
  RF_CHECK(a.offsets.numel() == a.rows + 1 && a.columns.numel() == a.values.numel(), "spmm: CSR of ", a.rows,
           " rows has ", a.offsets.numel(), " offsets and ", a.columns.numel(), " columns for ", a.values.numel(),
           " values");
  RF_CHECK(x.ndim() == 2 && y.ndim() == 2 && x.shape[0] == a.cols && y.shape[0] == a.rows && x.shape[1] == y.shape[1],
           "spmm: A is ", a.rows, " x ", a.cols, ", x ", x.shape.str(), ", y ", y.shape.str());
  for (const TensorView* t : std::initializer_list<const TensorView*>{&a.offsets, &a.columns, &a.values, &y}) {
    check_same_device("spmm", x, *t);
  }
  dispatch<spmm_op>(x.device)(res, a, x, y, accumulate);
}

RF_REGISTER_KERNEL(spmm, kCPU, spmm_cpu);

}  // namespace recforge::kernels
