// RF_CUDA_CHECK / RF_NCCL_CHECK / RF_CUBLAS_CHECK / RF_CUSPARSE_CHECK and
// RF_CUDA_CHECK_LAST(): library status codes turned into recforge::Error with
// file:line and the library's own message. This header includes CUDA headers,
// so it lives outside framework/include/ and only CUDA-enabled sources use it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>
#include <nccl.h>

#include "recforge/core/error.hpp"

namespace recforge::detail {

inline bool lib_ok(cudaError_t status) { return status == cudaSuccess; }
[[noreturn]] inline void lib_throw(cudaError_t status, const char* expr, const char* file, int line) {
  throw_error(ErrorKind::kCuda,
              concat(expr, " failed: ", cudaGetErrorName(status), ": ", cudaGetErrorString(status)),
              file, line);
}

inline bool lib_ok(ncclResult_t status) { return status == ncclSuccess; }
[[noreturn]] inline void lib_throw(ncclResult_t status, const char* expr, const char* file, int line) {
  throw_error(ErrorKind::kNccl,
              concat(expr, " failed: ", ncclGetErrorString(status), " (", ncclGetLastError(nullptr), ")"),
              file, line);
}

inline bool lib_ok(cublasStatus_t status) { return status == CUBLAS_STATUS_SUCCESS; }
[[noreturn]] inline void lib_throw(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw_error(ErrorKind::kBlas,
              concat(expr, " failed: ", cublasGetStatusName(status), ": ", cublasGetStatusString(status)),
              file, line);
}

inline bool lib_ok(cusparseStatus_t status) { return status == CUSPARSE_STATUS_SUCCESS; }
[[noreturn]] inline void lib_throw(cusparseStatus_t status, const char* expr, const char* file, int line) {
  throw_error(ErrorKind::kBlas,
              concat(expr, " failed: ", cusparseGetErrorName(status), ": ", cusparseGetErrorString(status)),
              file, line);
}

}  // namespace recforge::detail

#define RF_CUDA_CHECK(expr) RF_LIB_CHECK(static_cast<cudaError_t>(expr))
#define RF_NCCL_CHECK(expr) RF_LIB_CHECK(static_cast<ncclResult_t>(expr))
#define RF_CUBLAS_CHECK(expr) RF_LIB_CHECK(static_cast<cublasStatus_t>(expr))
#define RF_CUSPARSE_CHECK(expr) RF_LIB_CHECK(static_cast<cusparseStatus_t>(expr))
// After every kernel launch: reports launch-configuration errors without synchronising.
#define RF_CUDA_CHECK_LAST() RF_CUDA_CHECK(cudaPeekAtLastError())

// Logs instead of throwing: for destructors, which must not throw.
#define RF_CUDA_CHECK_NOTHROW(expr) ::recforge::detail::cuda_check_nothrow((expr), #expr, __FILE__, __LINE__)
namespace recforge::detail {
void log_error_nothrow(const char* message);
inline void cuda_check_nothrow(cudaError_t status, const char* expr, const char* file, int line) noexcept {
  if (status != cudaSuccess) {
    try {
      log_error_nothrow(concat(file, ":", line, ": ", expr, " failed: ", cudaGetErrorString(status)).c_str());
    } catch (...) {
    }
  }
}
}  // namespace recforge::detail
