// How the CPU kernels use OpenBLAS: on one thread per call, with recforge's own
// OpenMP threads around it. OpenBLAS's pthread pool and the OpenMP pool on the
// same few cores wait for each other (the pthread pool spins in sched_yield
// while an OpenMP region runs and the other way round): on 2 cores SASRec
// trained at 256 sequences/s with both pools and at 368 with one.
#pragma once

#include <cstdint>

namespace recforge::kernels {

// Sets OpenBLAS to one thread, once per process (cheap after the first call).
// Every CPU kernel that calls BLAS calls this first.
void use_one_blas_thread();

// Row-major C = alpha op(A) op(B) + beta C (cblas_sgemm's arguments), spread
// over the OpenMP threads once it is large enough to pay for waking them: by
// blocks of C's rows (or columns, when C is wide), one cblas call per block;
// or, when the inner dimension is much longer than C's sides (a weight
// gradient over a batch), by fixed-length chunks of it whose partial products
// are added in order. Either way the blocks depend on the shape alone, so the
// result does not depend on the thread count, whatever OpenBLAS's kernel.
void parallel_sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                    const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc);

}  // namespace recforge::kernels
