// OpenBLAS thread control for the CPU kernels (see gemm.cpp, attention.cpp).
#pragma once

#include <cblas.h>

#include <cstdint>

namespace recforge::kernels {

// Products below this many multiply-adds run on one thread: OpenBLAS would
// split them over its pool, whose hand-off and spinning cost more than the
// product (the layers of a mini-batch step), and the pool competes with
// OpenMP for the same cores.
constexpr std::int64_t kSingleThreadMacs = std::int64_t{1} << 24;

// Sets OpenBLAS to one thread for its lifetime (on the calling thread's side:
// recforge calls gemm from one thread at a time outside OpenMP regions).
class SingleThreadedBlas {
 public:
  explicit SingleThreadedBlas(bool active) : saved_(active ? openblas_get_num_threads() : 0) {
    if (saved_ > 1) openblas_set_num_threads(1);
  }
  ~SingleThreadedBlas() {
    if (saved_ > 1) openblas_set_num_threads(saved_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_;
};

}  // namespace recforge::kernels
