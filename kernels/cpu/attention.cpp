// CPU reference of the attention ops (see attention.hpp).
#include <cblas.h>

#include <algorithm>

#include "recforge/kernels/cpu_blas.hpp"
#include "recforge/kernels/attention.hpp"

namespace recforge::kernels {
namespace {

struct BatchedShape {
  std::int64_t batch, m, n, k;
};

BatchedShape check_batched(const TensorView& a, const TensorView& b, const TensorView& c, const GemmOptions& o) {
  for (const TensorView* t : std::initializer_list<const TensorView*>{&a, &b, &c}) {
    RF_CHECK(t->ndim() == 3, "batched_gemm: needs 3-d tensors, got ", t->shape.str());
    check_dtype("batched_gemm", *t, DType::kF32);
    check_contiguous("batched_gemm", *t);
  }
  const std::int64_t m = o.trans_a ? a.shape[2] : a.shape[1], k = o.trans_a ? a.shape[1] : a.shape[2];
  const std::int64_t kb = o.trans_b ? b.shape[2] : b.shape[1], n = o.trans_b ? b.shape[1] : b.shape[2];
  RF_CHECK(a.shape[0] == b.shape[0] && a.shape[0] == c.shape[0] && k == kb && c.shape[1] == m && c.shape[2] == n,
           "batched_gemm: op(A) ", a.shape.str(), ", op(B) ", b.shape.str(), ", C ", c.shape.str());
  return {a.shape[0], m, n, k};
}

void batched_gemm_cpu(const Resources&, const TensorView& a, const TensorView& b, TensorView c, const GemmOptions& o) {
  const BatchedShape s = check_batched(a, b, c, o);
  if (s.m == 0 || s.n == 0) return;
  const std::int64_t sa = a.shape[1] * a.shape[2], sb = b.shape[1] * b.shape[2], sc = s.m * s.n;
  // Batch entries (the attention of one sequence) spread over the OpenMP
  // threads, one BLAS thread each.
  use_one_blas_thread();
#pragma omp parallel for schedule(static) if (s.batch > 1)
  for (std::int64_t p = 0; p < s.batch; ++p) {
    cblas_sgemm(CblasRowMajor, o.trans_a ? CblasTrans : CblasNoTrans, o.trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(s.m), static_cast<int>(s.n), static_cast<int>(s.k), o.alpha,
                a.data_as<float>() + p * sa, static_cast<int>(a.shape[2]), b.data_as<float>() + p * sb,
                static_cast<int>(b.shape[2]), o.beta, c.data_as<float>() + p * sc, static_cast<int>(s.n));
  }
}

void causal_mask_cpu(const Resources&, TensorView x, const TensorView& begin, float value) {
  const std::int64_t batch = x.shape[0], l = x.shape[1];
  float* v = x.data_as<float>();
  for (std::int64_t p = 0; p < batch; ++p) {
    const std::int64_t first = begin.data != nullptr ? std::clamp<std::int64_t>(begin.data_as<std::int32_t>()[p], 0, l) : 0;
    for (std::int64_t i = 0; i < l; ++i) {
      if (i >= first) std::fill_n(v + (p * l + i) * l, first, value);
      for (std::int64_t j = i + 1; j < l; ++j) v[(p * l + i) * l + j] = value;
    }
  }
}

}  // namespace

void batched_gemm(const Resources& res, const TensorView& a, const TensorView& b, TensorView c,
                  const GemmOptions& options) {
  const BatchedShape s = check_batched(a, b, c, options);
  check_same_device("batched_gemm", a, b);
  check_same_device("batched_gemm", a, c);
  if (s.k == 0) return empty_product(res, c, options.beta);
  dispatch<batched_gemm_op>(a.device)(res, a, b, c, options);
}

void causal_mask(const Resources& res, TensorView x, float value, const TensorView& begin) {
  check_dtype("causal_mask", x, DType::kF32);
  check_contiguous("causal_mask", x);
  RF_CHECK(x.ndim() == 3 && x.shape[1] == x.shape[2], "causal_mask: needs (batch, L, L), got ", x.shape.str());
  if (begin.data != nullptr) {
    check_dtype("causal_mask", begin, DType::kI32);
    check_same_device("causal_mask", x, begin);
    RF_CHECK(begin.numel() == x.shape[0], "causal_mask: begin ", begin.shape.str(), " is not one per batch entry (",
             x.shape[0], ")");
  }
  dispatch<causal_mask_op>(x.device)(res, x, begin, value);
}

RF_REGISTER_KERNEL(batched_gemm, kCPU, batched_gemm_cpu);
RF_REGISTER_KERNEL(causal_mask, kCPU, causal_mask_cpu);

}  // namespace recforge::kernels
