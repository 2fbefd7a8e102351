// Scores U V^T of a block of users, produced tile by tile so that each tile is
// consumed while it is still in the core's L2 cache. With an inner dimension
// of 64 a whole block's scores (1024 users x 59,047 items = 242 MB) make one
// GEMM bound by writing memory; tiles of 512 users x 512 items (1 MB) keep the
// FMA units busy instead, and the top-K selection reads them from cache.
#pragma once

#include <cstdint>
#include <functional>

namespace recforge::ranking {

// Users [user_begin, user_begin + users) against items [item_begin, item_begin + items).
// Scores are item-major: scores[i * users + u] = U[user_begin + u] . V[item_begin + i],
// so one item's scores for the tile's users are contiguous (selection compares
// a row of them with the users' thresholds at once). The visitor may overwrite them.
struct ScoreTile {
  std::int64_t user_begin, users, item_begin, items;
  float* scores;
};

// Every tile, on the OpenMP threads: a user range belongs to one thread, which
// visits its tiles in increasing item order, so per-user state indexed by user
// needs no lock. `visit` runs inside an OpenMP region and must not throw.
// users (num_users, dim) and items (num_items, dim) are row-major f32.
void for_each_score_tile(const float* users, std::int64_t num_users, const float* items, std::int64_t num_items,
                         std::int64_t dim, const std::function<void(const ScoreTile&)>& visit);

// The tile shape: at most this many users (fewer when a block is small, so
// every thread gets some) and items per tile. Each OpenBLAS call packs both
// operands again, so square-ish tiles pack least per FMA; 512 x 512 beat
// 256 x 1024 by a few percent in interleaved runs (eval_cpu.md).
inline constexpr std::int64_t kTileUsers = 512, kTileItems = 512;

}  // namespace recforge::ranking
