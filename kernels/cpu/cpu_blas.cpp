// OpenBLAS on one thread, products split over the OpenMP threads (see cpu_blas.hpp).
#include "recforge/kernels/cpu_blas.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace recforge::kernels {
namespace {

// Below this many multiply-adds a product runs as one call: waking the
// threads costs more than it saves.
constexpr std::int64_t kParallelMacs = std::int64_t{1} << 18;
// C's longer side splits into blocks whose length that side alone sets (a
// multiple of kBlockAlign, at least kMinBlock, at most kMaxBlocks of them),
// one cblas call each, on any thread count, one included. Whether OpenBLAS
// gives an element the same bits in a smaller call depends on its kernel for
// the CPU (it does with AVX-512, not with AMD EPYC's AVX2 kernels): so the
// calls themselves must not depend on the thread count. The price: at most
// extent / 128 threads share one product (each block repacks the other
// operand; smaller blocks cost more than they gain on 2 cores), so on wide
// nodes several ranks per node keep the cores busy.
constexpr std::int64_t kBlockAlign = 16;
constexpr std::int64_t kMinBlock = 128;
constexpr std::int64_t kMaxBlocks = 32;

// Products whose inner dimension is this many times C's longer side (a
// weight gradient X^T dY over a batch's rows) split the inner dimension
// instead: split by rows of C, every thread would pack the whole of B.
constexpr std::int64_t kTallInner = 8;
// Inner chunks have a length set by k alone (at least kInnerChunk, at most
// kMaxChunks of them), so the result does not depend on the thread count
// either: partial products summed in chunk order.
constexpr std::int64_t kInnerChunk = 1024;
constexpr std::int64_t kMaxChunks = 32;
// ... for outputs up to this many values (the partial products' memory).
constexpr std::int64_t kMaxInnerSplitOutput = std::int64_t{1} << 16;

std::int64_t block_of(std::int64_t extent) {
  const std::int64_t even = (extent + kMaxBlocks - 1) / kMaxBlocks;
  return std::max(kMinBlock, (even + kBlockAlign - 1) / kBlockAlign * kBlockAlign);
}

// C = beta C + sum over chunks of alpha op(A)[:, chunk] op(B)[chunk, :]: the
// first chunk lands in C, the others in partial products added in order.
void inner_split_sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                       const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                       std::int64_t ldc, int threads) {
  const std::int64_t chunk = std::max(kInnerChunk, (k + kMaxChunks - 1) / kMaxChunks);
  const std::int64_t chunks = (k + chunk - 1) / chunk;
  thread_local std::vector<float> partial;
  partial.resize(static_cast<std::size_t>((chunks - 1) * m * n));
  float* parts = partial.data();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t p = 0; p < chunks; ++p) {
    const std::int64_t begin = p * chunk, size = std::min(chunk, k - begin);
    // op(A)'s columns begin..: A's rows when A is transposed; op(B)'s rows: B's columns when B is.
    const float* a_part = a + (trans_a ? begin * lda : begin);
    const float* b_part = b + (trans_b ? begin : begin * ldb);
    float* out = p == 0 ? c : parts + (p - 1) * m * n;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(size), alpha, a_part,
                static_cast<int>(lda), b_part, static_cast<int>(ldb), p == 0 ? beta : 0.0f, out,
                static_cast<int>(p == 0 ? ldc : n));
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t p = 1; p < chunks; ++p) {
      const float* row = parts + (p - 1) * m * n + i * n;
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] += row[j];
    }
  }
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
  // Chunked on one thread too, so that the sums are the same.
  if (k >= kTallInner * std::max(m, n) && k >= 2 * kInnerChunk && m * n <= kMaxInnerSplitOutput &&
      m * n * k >= kParallelMacs) {
    inner_split_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
    return;
  }
  if (m * n * k < kParallelMacs) {
    call(m, n, a, b, c);
    return;
  }
  // Split the longer side of C: rows take A's rows (columns when A is
  // transposed), columns take B's columns (rows when B is transposed).
  const bool by_rows = m >= n;
  const std::int64_t extent = by_rows ? m : n;
  const std::int64_t block = block_of(extent);
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
