// The server's batched exact scorer: every answer is a true top-k (checked in
// double precision against every other item), exclusions hold, ties go to the
// smaller id, a query's answer does not depend on the batch it was scored in,
// and concurrent callers each get their own answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "recforge/core/philox.hpp"
#include "recforge/serve/snapshot.hpp"
#include "serve/score_batcher.hpp"

namespace recforge::serve {
namespace {

std::vector<float> random_rows(std::int64_t rows, std::int64_t d, std::uint64_t stream) {
  std::vector<float> v(static_cast<std::size_t>(rows * d));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = philox_uniform(11, stream, i) - 0.5f;
  return v;
}

double dot(const float* a, const float* b, std::int64_t d) {
  double s = 0;
  for (std::int64_t c = 0; c < d; ++c) s += static_cast<double>(a[c]) * b[c];
  return s;
}

void expect_true_top_k(const std::vector<ScoredItem>& got, const float* items, std::int64_t n, std::int64_t d,
                       const float* query, int k, const std::vector<std::int32_t>& exclude) {
  ASSERT_EQ(static_cast<std::int64_t>(got.size()), std::min<std::int64_t>(k, n - static_cast<std::int64_t>(exclude.size())));
  std::vector<bool> chosen(static_cast<std::size_t>(n), false);
  double worst_chosen = 1e300;
  for (std::size_t j = 0; j < got.size(); ++j) {
    const ScoredItem& s = got[j];
    ASSERT_FALSE(std::binary_search(exclude.begin(), exclude.end(), s.item)) << "excluded item " << s.item << " returned";
    EXPECT_NEAR(s.score, dot(items + s.item * d, query, d), 1e-4);
    if (j > 0) {
      EXPECT_GE(got[j - 1].score, s.score) << "not sorted by score";
    }
    chosen[static_cast<std::size_t>(s.item)] = true;
    worst_chosen = std::min(worst_chosen, dot(items + s.item * d, query, d));
  }
  for (std::int64_t i = 0; i < n; ++i) {
    if (chosen[static_cast<std::size_t>(i)] || std::binary_search(exclude.begin(), exclude.end(), i)) continue;
    EXPECT_LE(dot(items + i * d, query, d), worst_chosen + 1e-5) << "item " << i << " beats the returned top-k";
  }
}

class ScoreBatcherShapes : public ::testing::TestWithParam<std::tuple<std::int64_t, std::int64_t, int>> {};

TEST_P(ScoreBatcherShapes, EveryAnswerIsTheTopKWhateverTheBatch) {
  const auto [n, d, k] = GetParam();
  const int queries = 9;
  const std::vector<float> items = random_rows(n, d, 1), q = random_rows(queries, d, 2);
  std::vector<std::vector<std::int32_t>> exclude(queries);
  for (int j = 0; j < queries; ++j) {
    for (int e = 0; e < 3 * j; ++e) exclude[j].push_back(static_cast<std::int32_t>(philox_below(5, j, e, n)));
    std::sort(exclude[j].begin(), exclude[j].end());
    exclude[j].erase(std::unique(exclude[j].begin(), exclude[j].end()), exclude[j].end());
  }
  ScoreBatcher batcher(items.data(), n, d, 32, 1);
  std::vector<std::vector<ScoredItem>> together;
  batcher.score_together(q.data(), queries, k, exclude, together);
  for (int j = 0; j < queries; ++j) {
    expect_true_top_k(together[j], items.data(), n, d, q.data() + j * d, k, exclude[j]);
    std::vector<std::vector<ScoredItem>> alone;
    batcher.score_together(q.data() + j * d, 1, k, {exclude[j]}, alone);
    ASSERT_EQ(alone[0].size(), together[j].size());
    for (std::size_t r = 0; r < alone[0].size(); ++r) {
      EXPECT_EQ(alone[0][r].item, together[j][r].item);
      EXPECT_EQ(alone[0][r].score, together[j][r].score);  // same kernel: bit-identical
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ScoreBatcherShapes,
                         ::testing::Values(std::make_tuple(1000, 64, 10), std::make_tuple(1003, 33, 7),
                                           std::make_tuple(257, 16, 300), std::make_tuple(5, 64, 10),
                                           std::make_tuple(700, 128, 1)));

TEST(ScoreBatcher, TiesGoToTheSmallerItemId) {
  const std::int64_t n = 600, d = 16;
  std::vector<float> items(static_cast<std::size_t>(n * d), 1.0f);  // every score equal
  const std::vector<float> q(d, 0.25f);
  ScoreBatcher batcher(items.data(), n, d, 8, 1);
  std::vector<std::vector<ScoredItem>> out;
  batcher.score_together(q.data(), 1, 5, {{0, 2}}, out);
  std::vector<std::int32_t> ids;
  for (const ScoredItem& s : out[0]) ids.push_back(s.item);
  EXPECT_EQ(ids, (std::vector<std::int32_t>{1, 3, 4, 5, 6}));
}

TEST(ScoreBatcher, ConcurrentCallersGetTheirOwnAnswers) {
  const std::int64_t n = 5000, d = 64;
  const int callers = 8, rounds = 40;
  const std::vector<float> items = random_rows(n, d, 3), q = random_rows(callers, d, 4);
  ScoreBatcher batcher(items.data(), n, d, 32, 2);
  std::vector<std::vector<ScoredItem>> expected;
  std::vector<std::vector<std::int32_t>> none(callers);
  batcher.score_together(q.data(), callers, 10, none, expected);
  std::vector<int> wrong(callers, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        const auto got = batcher.top_k(q.data() + t * d, 10, {});
        bool same = got.size() == expected[t].size();
        for (std::size_t j = 0; same && j < got.size(); ++j) same = got[j].item == expected[t][j].item;
        wrong[t] += same ? 0 : 1;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < callers; ++t) EXPECT_EQ(wrong[t], 0) << "caller " << t;
  EXPECT_EQ(batcher.requests(), callers * rounds);
  EXPECT_LE(batcher.batches(), batcher.requests());
}

// Other scoring (/v1/similar) takes the same slots as exact batches: no more
// than max_scoring_threads run at once, whatever the callers.
TEST(ScoreBatcher, ScoringSlotsBoundOtherScoringToo) {
  const std::vector<float> items = random_rows(64, 8, 1);
  for (const int slots : {1, 2}) {
    ScoreBatcher batcher(items.data(), 64, 8, 4, slots);
    std::atomic<int> running{0}, most{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 6; ++t) {
      callers.emplace_back([&] {
        for (int r = 0; r < 5; ++r) {
          batcher.in_scoring_slot([&] {
            const int now = ++running;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            --running;
            return 0;
          });
        }
      });
    }
    for (std::thread& t : callers) t.join();
    EXPECT_LE(most.load(), slots);
    EXPECT_GE(most.load(), 1);
  }
}

}  // namespace
}  // namespace recforge::serve
