// Samplers: batch schedules (1 rank x 2B == 2 ranks x B), negative sampling
// distributions and exclusion, sequences, and LightGCN's normalised graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "recforge/core/philox.hpp"
#include "recforge/data/sampler.hpp"

namespace recforge::data {
namespace {

TEST(BatchSchedule, TwoRanksTogetherSeeExactlyWhatOneRankSees) {
  BatchSchedule one(103, 20, 1, 0, 5), r0(103, 20, 2, 0, 5), r1(103, 20, 2, 1, 5);
  EXPECT_EQ(one.steps_per_epoch(), 6);
  EXPECT_EQ(r0.steps_per_epoch(), r1.steps_per_epoch());
  for (std::int64_t epoch : {0, 1}) {
    one.start_epoch(epoch);
    r0.start_epoch(epoch);
    r1.start_epoch(epoch);
    for (std::int64_t step = 0; step < one.steps_per_epoch(); ++step) {
      const auto all = one.batch(step);
      const auto a = r0.batch(step), b = r1.batch(step);
      std::vector<std::uint32_t> joined(a.begin(), a.end());
      joined.insert(joined.end(), b.begin(), b.end());
      EXPECT_EQ(joined, std::vector<std::uint32_t>(all.begin(), all.end())) << "epoch " << epoch << " step " << step;
      EXPECT_LE(std::max(a.size(), b.size()) - std::min(a.size(), b.size()), 1u);
    }
  }
}

TEST(BatchSchedule, EachEpochIsAPermutationAndEpochsDiffer) {
  BatchSchedule s(1000, 64, 1, 0, 11);
  std::vector<std::uint32_t> epoch0, epoch1;
  for (std::int64_t e : {0, 1}) {
    s.start_epoch(e);
    auto& seen = e == 0 ? epoch0 : epoch1;
    for (std::int64_t step = 0; step < s.steps_per_epoch(); ++step) {
      const auto b = s.batch(step);
      seen.insert(seen.end(), b.begin(), b.end());
    }
  }
  EXPECT_NE(epoch0, epoch1);
  std::sort(epoch0.begin(), epoch0.end());
  for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(epoch0[i], i);
  // Same (seed, epoch) -> same order, whenever it is asked for (resume).
  BatchSchedule again(1000, 64, 1, 0, 11);
  again.start_epoch(1);
  s.start_epoch(1);
  EXPECT_EQ(std::vector<std::uint32_t>(again.batch(3).begin(), again.batch(3).end()),
            std::vector<std::uint32_t>(s.batch(3).begin(), s.batch(3).end()));
}

TEST(BatchSchedule, DropLastAndUnshuffled) {
  BatchSchedule s(103, 20, 2, 1, 5, /*shuffle=*/false, /*drop_last=*/true);
  EXPECT_EQ(s.steps_per_epoch(), 5);
  s.start_epoch(0);
  EXPECT_EQ(std::vector<std::uint32_t>(s.batch(1).begin(), s.batch(1).end()),
            (std::vector<std::uint32_t>{30, 31, 32, 33, 34, 35, 36, 37, 38, 39}));
}

TEST(NegativeSampler, UniformIsUniformAndDeterministic) {
  const NegativeSampler sampler(10, NegativeSampler::Distribution::kUniform, nullptr);
  std::vector<int> counts(10, 0);
  for (std::uint64_t k = 0; k < 100000; ++k) ++counts[static_cast<std::size_t>(sampler.sample(0, 3, 4, k))];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);  // sd ~ 95
  EXPECT_EQ(sampler.sample(0, 3, 4, 77), sampler.sample(0, 3, 4, 77));
}

TEST(NegativeSampler, PopularityFollowsCountsToTheExponent) {
  const std::vector<std::int64_t> counts = {1, 2, 4, 8, 16, 0};
  const NegativeSampler sampler(6, NegativeSampler::Distribution::kPopularity, nullptr, counts, 0.5);
  double total = 0;
  for (auto c : counts) total += std::sqrt(static_cast<double>(c));
  for (std::int32_t i = 0; i < 6; ++i) EXPECT_NEAR(sampler.probability(i), std::sqrt(counts[static_cast<std::size_t>(i)]) / total, 1e-12);
  std::vector<int> hits(6, 0);
  const int n = 200000;
  for (int k = 0; k < n; ++k) ++hits[static_cast<std::size_t>(sampler.sample(0, 1, 2, static_cast<std::uint64_t>(k)))];
  EXPECT_EQ(hits[5], 0);
  for (std::int32_t i = 0; i < 5; ++i) EXPECT_NEAR(hits[static_cast<std::size_t>(i)] / static_cast<double>(n), sampler.probability(i), 0.005);
}

TEST(NegativeSampler, ExcludesTheUsersPositives) {
  InteractionTable t{{0, 0, 0, 1}, {0, 2, 4, 1}, {}, {}};
  const Csr positives = user_item_csr(t, 2);
  const NegativeSampler sampler(6, NegativeSampler::Distribution::kUniform, &positives);
  std::set<std::int32_t> drawn;
  for (std::uint64_t k = 0; k < 2000; ++k) drawn.insert(sampler.sample(0, 9, 9, k));
  EXPECT_EQ(drawn, (std::set<std::int32_t>{1, 3, 5}));
}

TEST(Sequences, LastItemsLeftPadded) {
  InteractionTable t{{0, 0, 0, 0, 2}, {5, 6, 7, 8, 9}, {}, {}};
  const Sequences s = build_sequences(t, 3, 3);
  EXPECT_EQ(std::vector<std::int32_t>(s.row(0).begin(), s.row(0).end()), (std::vector<std::int32_t>{6, 7, 8}));
  EXPECT_EQ(std::vector<std::int32_t>(s.row(1).begin(), s.row(1).end()), (std::vector<std::int32_t>{-1, -1, -1}));
  EXPECT_EQ(std::vector<std::int32_t>(s.row(2).begin(), s.row(2).end()), (std::vector<std::int32_t>{-1, -1, 9}));
  EXPECT_EQ(s.length, (std::vector<std::int32_t>{3, 0, 1}));
}

TEST(Graph, SymmetricNormalisationOfDistinctPairs) {
  // u0-{i0,i1}, u1-{i0} plus a duplicate u0-i0.
  InteractionTable t{{0, 0, 1, 0}, {0, 1, 0, 0}, {}, {}};
  const Csr a = normalized_bipartite_adjacency(t, 2, 2);
  ASSERT_EQ(a.rows(), 4);
  EXPECT_EQ(a.nnz(), 6);
  const auto value = [&](std::int32_t r, std::int32_t c) {
    for (std::int64_t k = a.offsets[static_cast<std::size_t>(r)]; k < a.offsets[static_cast<std::size_t>(r) + 1]; ++k)
      if (a.col[static_cast<std::size_t>(k)] == c) return a.value[static_cast<std::size_t>(k)];
    return 0.0f;
  };
  EXPECT_FLOAT_EQ(value(0, 2), 1.0f / std::sqrt(2.0f * 2.0f));  // deg(u0) = 2, deg(i0) = 2
  EXPECT_FLOAT_EQ(value(0, 3), 1.0f / std::sqrt(2.0f * 1.0f));
  EXPECT_FLOAT_EQ(value(1, 2), 1.0f / std::sqrt(1.0f * 2.0f));
  EXPECT_FLOAT_EQ(value(2, 0), value(0, 2));  // symmetric
  EXPECT_FLOAT_EQ(value(1, 3), 0.0f);
}

}  // namespace
}  // namespace recforge::data
