// CUDA spmm through cuSPARSE's generic SpMM (CSR, row-major dense operands).
// The result may differ from the CPU's in the last bits (summation order).
// cuSPARSE wants one index type for row offsets and columns, while recforge's
// CSR keeps i64 offsets and i32 columns: the offsets are narrowed to i32 for
// the call (rows + 1 values; nnz < 2^31), else the columns widened to i64.
#include "recforge/core/tensor.hpp"
#include "recforge/cuda/check.cuh"
#include "recforge/cuda/launch.cuh"
#include "recforge/kernels/sparse.hpp"

namespace recforge::kernels {
namespace {

template <class To, class From>
__global__ void convert_kernel(const From* in, To* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    out[i] = static_cast<To>(in[i]);
  }
}

template <class To, class From>
Tensor converted(const Resources& res, const TensorView& in, DType to) {
  Tensor out = Tensor::empty({in.numel()}, to, res.allocator(), res.stream());
  if (in.numel() > 0) {
    convert_kernel<To, From><<<cuda::blocks_for(in.numel(), 256), 256, 0, static_cast<cudaStream_t>(res.stream().native())>>>(
        in.data_as<From>(), out.data_as<To>(), in.numel());
    RF_CUDA_CHECK_LAST();
  }
  return out;
}

void spmm_cuda(const Resources& res, const CsrView& a, const TensorView& x, TensorView y, bool accumulate) {
  const std::int64_t d = x.shape[1], nnz = a.values.numel();
  if (a.rows == 0 || d == 0) return;
  const auto handle = static_cast<cusparseHandle_t>(res.cusparse_handle());
  cusparseSpMatDescr_t mat = nullptr;
  cusparseDnMatDescr_t dx = nullptr, dy = nullptr;
  const bool narrow = nnz < INT32_MAX;
  const Tensor indices = narrow ? converted<std::int32_t, std::int64_t>(res, a.offsets, DType::kI32)
                                : converted<std::int64_t, std::int32_t>(res, a.columns, DType::kI64);
  const auto index_type = narrow ? CUSPARSE_INDEX_32I : CUSPARSE_INDEX_64I;
  RF_CUSPARSE_CHECK(cusparseCreateCsr(&mat, a.rows, a.cols, nnz, narrow ? indices.data() : a.offsets.data,
                                      narrow ? a.columns.data : indices.data(),
                                      const_cast<float*>(a.values.data_as<float>()), index_type, index_type,
                                      CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
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
