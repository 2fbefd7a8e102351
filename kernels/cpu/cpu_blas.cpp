// OpenBLAS on one thread, products split over the OpenMP threads (see cpu_blas.hpp).
#include "recforge/kernels/cpu_blas.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <mutex>

namespace recforge::kernels {
namespace {

// Below this many multiply-adds a product runs as one call: waking the
// threads costs more than it saves.
constexpr std::int64_t kParallelMacs = std::int64_t{1} << 18;
// Long sides split in multiples of this many rows or columns (OpenBLAS's
// kernels work in panels of 16 floats on AVX-512); short ones evenly.
constexpr std::int64_t kBlockAlign = 16;

std::int64_t block_of(std::int64_t extent, int threads) {
  const std::int64_t even = (extent + threads - 1) / threads;
  return even < 4 * kBlockAlign ? even : (even + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
}

}  // namespace

void use_one_blas_thread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

void parallel_sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                    const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc) {
  use_one_blas_thread();
  const auto call = [&](std::int64_t rows, std::int64_t cols, const float* a_part, const float* b_part, float* c_part) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(rows), static_cast<int>(cols), static_cast<int>(k), alpha, a_part,
                static_cast<int>(lda), b_part, static_cast<int>(ldb), beta, c_part, static_cast<int>(ldc));
  };
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads == 1 || m * n * k < kParallelMacs) {
    call(m, n, a, b, c);
    return;
  }
  // Split the longer side of C: rows take A's rows (columns when A is
  // transposed), columns take B's columns (rows when B is transposed).
  const bool by_rows = m >= n;
  const std::int64_t extent = by_rows ? m : n;
  const std::int64_t block = block_of(extent, threads);
  const std::int64_t blocks = (extent + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t p = 0; p < blocks; ++p) {
    const std::int64_t begin = p * block, size = std::min(block, extent - begin);
    if (by_rows) {
      call(size, n, a + (trans_a ? begin : begin * lda), b, c + begin * ldc);
    } else {
      call(m, size, a, b + (trans_b ? begin * ldb : begin), c + begin);
    }
  }
}

}  // namespace recforge::kernels
