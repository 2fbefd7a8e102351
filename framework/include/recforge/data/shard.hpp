// Sharding for data-parallel work: which rows or users each rank owns.
// Deterministic for a given dataset and world size (no randomness involved).
#pragma once

#include <cstdint>
#include <vector>

#include "recforge/data/interactions.hpp"

namespace recforge::data {

// Rows [begin, end) owned by one rank.
struct RowRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

// Splits rows [0, n) into `world` contiguous ranges whose sizes differ by at most one.
RowRange shard_rows(std::int64_t n, int world, int rank);

// Splits users into `world` contiguous id ranges balanced by interaction count
// (users are kept whole): boundaries[r] .. boundaries[r + 1] are rank r's users.
// `user_offsets` are CSR row offsets (num_users + 1). Every rank's load is within
// one user's interactions of the ideal share.
std::vector<std::int32_t> partition_users(const std::vector<std::int64_t>& user_offsets, int world);

}  // namespace recforge::data
