// Splits: exact sizes, determinism for a seed, no held-out pair in training.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "recforge/data/split.hpp"
#include "recforge/data/transforms.hpp"
#include "testing/error_testing.hpp"

namespace recforge::data {
namespace {

// 50 users with 3..12 interactions, timestamps increasing per user.
InteractionTable sample_table() {
  InteractionTable t;
  for (std::int32_t u = 0; u < 50; ++u) {
    for (std::int32_t k = 0; k < 3 + u % 10; ++k) {
      t.user.push_back(u);
      t.item.push_back((u * 7 + k * 13) % 97);
      t.rating.push_back(4.0f);
      t.timestamp.push_back(1000 * u + 10 * k + (u % 3));
    }
  }
  return t;
}

std::set<std::pair<std::int32_t, std::int32_t>> pairs(const InteractionTable& t) {
  std::set<std::pair<std::int32_t, std::int32_t>> out;
  for (std::size_t i = 0; i < t.user.size(); ++i) out.emplace(t.user[i], t.item[i]);
  return out;
}

void expect_no_leakage(const Dataset& d) {
  const auto train = pairs(d.train), valid = pairs(d.valid), test = pairs(d.test);
  for (const auto& p : test) EXPECT_FALSE(train.count(p) || valid.count(p)) << p.first << "," << p.second;
  for (const auto& p : valid) EXPECT_FALSE(train.count(p));
}

Dataset split(SplitOptions o, InteractionTable t = sample_table()) {
  Dataset d;
  sort_by_user_time(t, 50);
  split_interactions(std::move(t), 50, o, d);
  return d;
}

TEST(Split, RandomHasExactSizesAndIsDeterministic) {
  const std::int64_t n = sample_table().size();
  SplitOptions o{.method = SplitMethod::kRandom, .test_ratio = 0.2, .valid_ratio = 0.1, .seed = 7};
  const Dataset a = split(o), b = split(o);
  EXPECT_EQ(a.test.size(), std::llround(0.2 * n));
  EXPECT_EQ(a.valid.size(), std::llround(0.1 * n));
  EXPECT_EQ(a.train.size() + a.valid.size() + a.test.size(), n);
  EXPECT_EQ(a.test.item, b.test.item);
  EXPECT_EQ(a.test.user, b.test.user);
  o.seed = 8;
  EXPECT_NE(split(o).test.item, a.test.item);
  expect_no_leakage(a);
}

TEST(Split, GlobalTemporalHoldsOutTheLatestRows) {
  const Dataset d = split({.method = SplitMethod::kGlobalTemporal, .test_ratio = 0.25});
  std::int64_t latest_train = 0, earliest_test = INT64_MAX;
  for (auto t : d.train.timestamp) latest_train = std::max(latest_train, t);
  for (auto t : d.test.timestamp) earliest_test = std::min(earliest_test, t);
  EXPECT_LE(latest_train, earliest_test);
  EXPECT_EQ(d.test.size(), std::llround(0.25 * sample_table().size()));
}

TEST(Split, UserTemporalKeepsATrainingRowPerUser) {
  const Dataset d = split({.method = SplitMethod::kUserTemporal, .test_ratio = 0.5, .valid_ratio = 0.3});
  std::set<std::int32_t> train_users(d.train.user.begin(), d.train.user.end());
  EXPECT_EQ(train_users.size(), 50u);
  // User 0 has 3 rows: round(1.5) = 2 test, round(0.9) = 1 valid would leave none; valid shrinks first.
  EXPECT_EQ(std::count(d.test.user.begin(), d.test.user.end(), 0), 2);
  EXPECT_EQ(std::count(d.valid.user.begin(), d.valid.user.end(), 0), 0);
  expect_no_leakage(d);
}

TEST(Split, LeaveOneOutTakesTheLatestItemPerUser) {
  const Dataset d = split({.method = SplitMethod::kLeaveOneOut, .validation_item = true});
  EXPECT_EQ(d.test.size(), 50);
  EXPECT_EQ(d.valid.size(), 50);
  // User 4 has 7 rows at times 4000 + 10k + 1: the test row is the last (k = 6), valid k = 5.
  for (std::size_t i = 0; i < d.test.user.size(); ++i) {
    if (d.test.user[i] == 4) {
      EXPECT_EQ(d.test.timestamp[i], 4061);
    }
  }
  for (std::size_t i = 0; i < d.valid.user.size(); ++i) {
    if (d.valid.user[i] == 4) {
      EXPECT_EQ(d.valid.timestamp[i], 4051);
    }
  }
  expect_no_leakage(d);
}

TEST(Split, LeaveOneOutLeavesShortHistoriesInTrain) {
  const Dataset d = split({.method = SplitMethod::kLeaveOneOut, .min_history = 5});
  // Users with u % 10 < 2 have 3 or 4 rows.
  EXPECT_EQ(d.test.size(), 40);
}

// A minimum history that would hold out every row of a user is raised to
// what the split needs: user 0 (first, 1 row) and user 1 (2 rows) stay in
// train, and user 2 keeps its test row (no write before a user's rows).
TEST(Split, LeaveOneOutNeverHoldsOutAUsersLastTrainingRow) {
  InteractionTable t;
  const std::int32_t rows_of[] = {1, 2, 5};
  for (std::int32_t u = 0; u < 3; ++u) {
    for (std::int32_t k = 0; k < rows_of[u]; ++k) {
      t.user.push_back(u);
      t.item.push_back(k);
      t.rating.push_back(4.0f);
      t.timestamp.push_back(k);
    }
  }
  Dataset d;
  sort_by_user_time(t, 3);
  split_interactions(std::move(t), 3, {.method = SplitMethod::kLeaveOneOut, .validation_item = true, .min_history = 1},
                     d);
  EXPECT_EQ(d.test.user, (std::vector<std::int32_t>{2}));
  EXPECT_EQ(d.valid.user, (std::vector<std::int32_t>{2}));
  EXPECT_EQ(d.train.size(), 6);
}

TEST(Split, TemporalSplitsNeedTimestamps) {
  InteractionTable t = sample_table();
  t.timestamp.clear();
  Dataset d;
  RF_EXPECT_ERROR(split_interactions(t, 50, {.method = SplitMethod::kLeaveOneOut}, d), ErrorKind::kConfig,
                  "split method leave_one_out needs timestamps");
}

TEST(Split, DuplicatesOfHeldOutPairsNeverStayInTraining) {
  // keep_all duplicates: user 0 rated item 5 at t=1 and t=9; leave-one-out holds out t=9.
  InteractionTable t{{0, 0, 0}, {5, 6, 5}, {}, {1, 2, 9}};
  Dataset d;
  const SplitReport r = split_interactions(t, 1, {.method = SplitMethod::kLeaveOneOut}, d);
  EXPECT_EQ(r.leaked_rows_removed, 1);
  EXPECT_EQ(d.train.item, (std::vector<std::int32_t>{6}));
  EXPECT_EQ(d.test.item, (std::vector<std::int32_t>{5}));
}

TEST(Split, DropColdRemovesHeldOutRowsWithUnseenItems) {
  Dataset d;
  d.users = IdMap::integers({1, 2});
  d.items = IdMap::integers({1, 2, 3});
  d.train = InteractionTable{{0, 1}, {0, 1}, {}, {}};
  d.test = InteractionTable{{0, 1}, {2, 0}, {}, {}};
  EXPECT_EQ(drop_cold_heldout(d), 1);
  EXPECT_EQ(d.test.item, (std::vector<std::int32_t>{0}));
}

TEST(Split, RatiosAreValidated) {
  Dataset d;
  RF_EXPECT_ERROR(split_interactions(sample_table(), 50, {.method = SplitMethod::kRandom, .test_ratio = 0.6, .valid_ratio = 0.5}, d),
                  ErrorKind::kConfig, "sum to less than 1");
}

}  // namespace
}  // namespace recforge::data
