// Tiled scoring on the CPU (see score_tiles.hpp): one OpenBLAS call per tile on
// the calling thread, into a buffer that stays with the thread.
#include "score_tiles.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "recforge/kernels/cpu_blas.hpp"

namespace recforge::ranking {

void for_each_score_tile(const float* users, std::int64_t num_users, const float* items, std::int64_t num_items,
                         std::int64_t dim, const std::function<void(const ScoreTile&)>& visit) {
  if (num_users == 0 || num_items == 0) return;
  kernels::use_one_blas_thread();
  // Split small blocks evenly (in multiples of 16 users: OpenBLAS's AVX-512
  // panels) so that no thread idles.
  const auto threads = static_cast<std::int64_t>(omp_in_parallel() ? 1 : omp_get_max_threads());
  const std::int64_t even = (num_users + threads - 1) / threads;
  const std::int64_t per_range = std::min(kTileUsers, (even + 15) / 16 * 16);
  const std::int64_t ranges = (num_users + per_range - 1) / per_range;
#pragma omp parallel num_threads(static_cast<int>(std::min(threads, ranges)))
  {
    // Kept between calls: a fresh megabyte per call would fault its pages in again.
    thread_local std::vector<float> buffer;
    buffer.resize(static_cast<std::size_t>(per_range * kTileItems));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t r = 0; r < ranges; ++r) {
      const std::int64_t user_begin = r * per_range, n_users = std::min(per_range, num_users - user_begin);
      for (std::int64_t item_begin = 0; item_begin < num_items; item_begin += kTileItems) {
        const std::int64_t n_items = std::min(kTileItems, num_items - item_begin);
        // Item-major: tile^T = V_tile U_range^T. OpenBLAS runs this orientation
        // ~15% faster than the user-major one at d = 64 (measured, 2 cores).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_items), static_cast<int>(n_users),
                    static_cast<int>(dim), 1.0f, items + item_begin * dim, static_cast<int>(dim),
                    users + user_begin * dim, static_cast<int>(dim), 0.0f, buffer.data(), static_cast<int>(n_users));
        visit(ScoreTile{user_begin, n_users, item_begin, n_items, buffer.data()});
      }
    }
  }
}

}  // namespace recforge::ranking
