// Sharding: balanced, disjoint, complete, deterministic.
#include <gtest/gtest.h>

#include "recforge/data/shard.hpp"

namespace recforge::data {
namespace {

TEST(ShardRows, BalancedDisjointAndComplete) {
  for (std::int64_t n : {0, 1, 7, 100, 1001}) {
    for (int world : {1, 2, 3, 8}) {
      std::int64_t next = 0, min_size = INT64_MAX, max_size = 0;
      for (int r = 0; r < world; ++r) {
        const RowRange range = shard_rows(n, world, r);
        EXPECT_EQ(range.begin, next);
        next = range.end;
        min_size = std::min(min_size, range.size());
        max_size = std::max(max_size, range.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(max_size - min_size, 1);
    }
  }
}

TEST(PartitionUsers, KeepsUsersWholeAndBalancesInteractions) {
  // 1000 users with a long tail of activity.
  std::vector<std::int64_t> offsets = {0};
  for (int u = 0; u < 1000; ++u) offsets.push_back(offsets.back() + 1 + (u * 37 % 101 == 0 ? 400 : u % 13));
  const std::int64_t total = offsets.back();
  for (int world : {1, 2, 3, 5}) {
    const auto bounds = partition_users(offsets, world);
    ASSERT_EQ(bounds.size(), static_cast<std::size_t>(world) + 1);
    EXPECT_EQ(bounds.front(), 0);
    EXPECT_EQ(bounds.back(), 1000);
    for (int r = 0; r < world; ++r) {
      EXPECT_LE(bounds[r], bounds[r + 1]);
      const std::int64_t load = offsets[static_cast<std::size_t>(bounds[r + 1])] - offsets[static_cast<std::size_t>(bounds[r])];
      EXPECT_LE(std::abs(load - total / world), 401) << "rank " << r << " of " << world;
    }
    EXPECT_EQ(partition_users(offsets, world), bounds);  // deterministic
  }
}

}  // namespace
}  // namespace recforge::data
