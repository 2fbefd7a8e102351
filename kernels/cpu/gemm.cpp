// CPU gemm through OpenBLAS (cblas_sgemm, row-major), and the plain-loop reference.
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/cpu_blas.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/kernels/nn.hpp"

namespace recforge::kernels {

GemmShape check_gemm(const TensorView& a, const TensorView& b, const TensorView& c, const GemmOptions& o) {
  for (const auto* t : {&a, &b, &c}) {
    RF_CHECK(t->ndim() == 2, "gemm: needs 2-d tensors, got ", t->shape.str());
    check_dtype("gemm", *t, DType::kF32);
    RF_CHECK(t->strides[1] == 1 && t->strides[0] >= t->shape[1], "gemm: rows must be contiguous (strides ",
             t->strides.str(), " for shape ", t->shape.str(), ")");
  }
  const std::int64_t m = o.trans_a ? a.shape[1] : a.shape[0], k = o.trans_a ? a.shape[0] : a.shape[1];
  const std::int64_t kb = o.trans_b ? b.shape[1] : b.shape[0], n = o.trans_b ? b.shape[0] : b.shape[1];
  RF_CHECK(k == kb && c.shape[0] == m && c.shape[1] == n, "gemm: op(A) is ", m, "x", k, ", op(B) is ", kb, "x", n,
           ", C is ", c.shape.str());
  return {m, n, k};
}

void empty_product(const Resources& res, TensorView c, float beta) {
  if (beta == 1.0f || c.numel() == 0) return;
  if (beta == 0.0f) {
    Tensor::wrap(c).copy_from(Tensor::zeros(c.shape, DType::kF32, c.device, res.stream()), res.stream());
  } else {
    scale(res, beta, c, c);
  }
}

void gemm_naive(const TensorView& a, const TensorView& b, TensorView c, const GemmOptions& o) {
  const GemmShape s = check_gemm(a, b, c, o);
  for (std::int64_t i = 0; i < s.m; ++i) {
    for (std::int64_t j = 0; j < s.n; ++j) {
      double sum = 0;
      for (std::int64_t p = 0; p < s.k; ++p) {
        const float x = o.trans_a ? a.at<float>(p, i) : a.at<float>(i, p);
        const float y = o.trans_b ? b.at<float>(j, p) : b.at<float>(p, j);
        sum += static_cast<double>(x) * y;
      }
      float& out = c.at<float>(i, j);
      out = static_cast<float>(o.alpha * sum + (o.beta == 0.0f ? 0.0 : o.beta * static_cast<double>(out)));
    }
  }
}

namespace {

void gemm_cpu(const Resources&, const TensorView& a, const TensorView& b, TensorView c, const GemmOptions& o) {
  const GemmShape s = check_gemm(a, b, c, o);
  if (s.m == 0 || s.n == 0) return;
  parallel_sgemm(o.trans_a, o.trans_b, s.m, s.n, s.k, o.alpha, a.data_as<float>(), a.strides[0], b.data_as<float>(),
                 b.strides[0], o.beta, c.data_as<float>(), c.strides[0]);
}

}  // namespace

RF_REGISTER_KERNEL(gemm, kCPU, gemm_cpu);

}  // namespace recforge::kernels
