// Row and user sharding.
#include "recforge/data/shard.hpp"

#include <algorithm>

#include "recforge/core/error.hpp"

namespace recforge::data {

RowRange shard_rows(std::int64_t n, int world, int rank) {
  RF_CHECK(world >= 1 && rank >= 0 && rank < world, "shard_rows: rank ", rank, " of world ", world);
  const std::int64_t base = n / world, extra = n % world;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::vector<std::int32_t> partition_users(const std::vector<std::int64_t>& user_offsets, int world) {
  RF_CHECK(world >= 1, "partition_users: world size ", world);
  RF_CHECK(!user_offsets.empty(), "partition_users: empty offsets");
  const auto num_users = static_cast<std::int32_t>(user_offsets.size() - 1);
  const std::int64_t total = user_offsets.back();
  std::vector<std::int32_t> bounds = {0};
  for (int r = 1; r < world; ++r) {
    // The user boundary closest to the ideal cut r * total / world.
    const std::int64_t target = total * r / world;
    auto it = std::lower_bound(user_offsets.begin(), user_offsets.end(), target);
    auto u = static_cast<std::int32_t>(it - user_offsets.begin());
    if (u > 0 && it != user_offsets.end() && target - user_offsets[static_cast<std::size_t>(u) - 1] < *it - target) --u;
    u = std::clamp(u, bounds.back(), num_users);
    bounds.push_back(u);
  }
  bounds.push_back(num_users);
  return bounds;
}

}  // namespace recforge::data
