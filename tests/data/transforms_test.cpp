// Threshold, canonical order, de-duplication policies and k-core: known answers.
#include <gtest/gtest.h>

#include "recforge/data/transforms.hpp"
#include "testing/error_testing.hpp"

namespace recforge::data {
namespace {

InteractionTable table(std::vector<std::int32_t> u, std::vector<std::int32_t> i, std::vector<float> r = {},
                       std::vector<std::int64_t> t = {}) {
  return InteractionTable{std::move(u), std::move(i), std::move(r), std::move(t)};
}

IdMap ids(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) v[static_cast<std::size_t>(k)] = 100 + k;
  return IdMap::integers(v);
}

TEST(Threshold, KeepsRatingsAtOrAboveIt) {
  auto t = table({0, 0, 1, 1}, {0, 1, 0, 1}, {3.5f, 4.0f, 5.0f, 1.0f});
  EXPECT_EQ(apply_rating_threshold(t, 4.0), 2);
  EXPECT_EQ(t.user, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(t.rating, (std::vector<float>{4.0f, 5.0f}));
  // Decimal ratings at the threshold stay (0.7f is below 0.7 as a double).
  auto decimal = table({0, 0, 0, 1}, {0, 1, 2, 0}, {0.7f, 0.69f, 0.9f, 3.3f});
  EXPECT_EQ(apply_rating_threshold(decimal, 0.7), 1);
  EXPECT_EQ(decimal.rating, (std::vector<float>{0.7f, 0.9f, 3.3f}));
  auto at_3_3 = table({0, 1}, {0, 0}, {3.3f, 3.2f});
  EXPECT_EQ(apply_rating_threshold(at_3_3, 3.3), 1);
  auto no_ratings = table({0}, {0});
  RF_EXPECT_ERROR(apply_rating_threshold(no_ratings, 4.0), ErrorKind::kConfig, "needs ratings");
}

TEST(CanonicalOrder, ByUserThenTimeThenFileOrder) {
  auto t = table({1, 0, 1, 0, 1}, {10, 20, 30, 40, 50}, {}, {5, 9, 1, 9, 5});
  sort_by_user_time(t, 2);
  EXPECT_EQ(t.user, (std::vector<std::int32_t>{0, 0, 1, 1, 1}));
  EXPECT_EQ(t.item, (std::vector<std::int32_t>{20, 40, 30, 10, 50}));  // ties keep file order
  EXPECT_EQ(t.timestamp, (std::vector<std::int64_t>{9, 9, 1, 5, 5}));
}

TEST(Dedup, EveryPolicy) {
  // user 0 rated item 1 three times (t = 1, 2, 3 with ratings 2, 5, 3).
  const auto base = table({0, 0, 0, 0, 1}, {1, 2, 1, 1, 1}, {2, 4, 5, 3, 1}, {1, 1, 2, 3, 1});
  auto keep_all = base;
  EXPECT_EQ(deduplicate(keep_all, 2, 3, Dedup::kKeepAll, ids(2), ids(3)), 0);
  auto first = base;
  EXPECT_EQ(deduplicate(first, 2, 3, Dedup::kFirst, ids(2), ids(3)), 2);
  EXPECT_EQ(first.rating, (std::vector<float>{2, 4, 1}));
  auto last = base;
  EXPECT_EQ(deduplicate(last, 2, 3, Dedup::kLast, ids(2), ids(3)), 2);
  EXPECT_EQ(last.rating, (std::vector<float>{4, 3, 1}));
  auto max = base;
  EXPECT_EQ(deduplicate(max, 2, 3, Dedup::kMaxRating, ids(2), ids(3)), 2);
  EXPECT_EQ(max.rating, (std::vector<float>{4, 5, 1}));
  auto error = base;
  RF_EXPECT_ERROR(deduplicate(error, 2, 3, Dedup::kError, ids(2), ids(3)), ErrorKind::kData,
                  "duplicate interaction: user 100 and item 101");
}

TEST(Kcore, IteratesUntilStableAndRenumbers) {
  // Users 0..3, items 0..3. With k = 2 for both: item 3 (1 row) goes, which
  // leaves user 3 with 1 row, which then goes, which leaves item 2 with 1 row...
  auto t = table({0, 0, 1, 1, 2, 2, 3, 3}, {0, 1, 0, 1, 2, 0, 2, 3});
  IdMap users = ids(4), items = ids(4);
  const KcoreReport r = kcore_filter(t, users, items, 2, 2);
  EXPECT_EQ(r.rounds, 5);  // four removal rounds and one that finds nothing
  EXPECT_EQ(t.size(), 4);
  EXPECT_EQ(t.user, (std::vector<std::int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(t.item, (std::vector<std::int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(users.integer_ids(), (std::vector<std::int64_t>{100, 101}));
  EXPECT_EQ(items.integer_ids(), (std::vector<std::int64_t>{100, 101}));
  EXPECT_EQ(r.users_removed, 2);
  EXPECT_EQ(r.items_removed, 2);
}

TEST(Kcore, NoOpBelowTwo) {
  auto t = table({0}, {0});
  IdMap users = ids(1), items = ids(1);
  EXPECT_EQ(kcore_filter(t, users, items, 1, 0).rows_removed, 0);
}

}  // namespace
}  // namespace recforge::data
