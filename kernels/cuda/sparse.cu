// CUDA spmm through cuSPARSE's generic SpMM (CSR, row-major dense operands).
// The result may differ from the CPU's in the last bits (summation order).
#include "recforge/core/tensor.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/kernels/sparse.hpp"

namespace recforge::kernels {
namespace {

void spmm_cuda(const Resources& res, const CsrView& a, const TensorView& x, TensorView y, bool accumulate) {
  const std::int64_t d = x.shape[1];
  if (a.rows == 0 || d == 0) return;
  const auto handle = static_cast<cusparseHandle_t>(res.cusparse_handle());
  cusparseSpMatDescr_t mat = nullptr;
  cusparseDnMatDescr_t dx = nullptr, dy = nullptr;
  RF_CUSPARSE_CHECK(cusparseCreateCsr(&mat, a.rows, a.cols, a.values.numel(),
                                      const_cast<std::int64_t*>(a.offsets.data_as<std::int64_t>()),
                                      const_cast<std::int32_t*>(a.columns.data_as<std::int32_t>()),
                                      const_cast<float*>(a.values.data_as<float>()), CUSPARSE_INDEX_64I,
                                      CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  RF_CUSPARSE_CHECK(cusparseCreateDnMat(&dx, a.cols, d, d, const_cast<float*>(x.data_as<float>()), CUDA_R_32F,
                                        CUSPARSE_ORDER_ROW));
  RF_CUSPARSE_CHECK(cusparseCreateDnMat(&dy, a.rows, d, d, y.data_as<float>(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  std::size_t bytes = 0;
  RF_CUSPARSE_CHECK(cusparseSpMM_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                            &alpha, mat, dx, &beta, dy, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
  Tensor scratch = Tensor::empty({static_cast<std::int64_t>(bytes)}, DType::kU8, res.allocator(), res.stream());
  RF_CUSPARSE_CHECK(cusparseSpMM(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                                 mat, dx, &beta, dy, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, scratch.data()));
  cusparseDestroyDnMat(dy);
  cusparseDestroyDnMat(dx);
  cusparseDestroySpMat(mat);
}

}  // namespace

RF_REGISTER_KERNEL(spmm, kCUDA, spmm_cuda);

}  // namespace recforge::kernels
