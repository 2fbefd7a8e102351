// The HNSW index behind `recforge serve --ann`: --ann-ef-search widens the
// search (Faiss 1.7 reads the beam width from the index, not from the search
// parameters: passed only as a parameter, the setting changed nothing).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "recforge/serve/ann_index.hpp"
#include "recforge/serve/snapshot.hpp"

namespace recforge::serve {
namespace {

// The share of queries whose exact best item the index returns first.
double recall_at_1(const AnnIndex& index, const std::vector<float>& items, const std::vector<float>& queries,
                   std::int64_t d) {
  const auto n = static_cast<std::int64_t>(items.size()) / d, q = static_cast<std::int64_t>(queries.size()) / d;
  int hits = 0;
  for (std::int64_t j = 0; j < q; ++j) {
    const float* query = queries.data() + j * d;
    std::int64_t best = 0;
    float best_score = -1e30f;
    for (std::int64_t i = 0; i < n; ++i) {
      float score = 0;
      for (std::int64_t c = 0; c < d; ++c) score += query[c] * items[static_cast<std::size_t>(i * d + c)];
      if (score > best_score) best_score = score, best = i;
    }
    const auto found = index.search({query, static_cast<std::size_t>(d)}, 1);
    hits += !found.empty() && found[0].item == best;
  }
  return static_cast<double>(hits) / static_cast<double>(q);
}

TEST(AnnIndex, EfSearchWidensTheSearch) {
  if (!AnnIndex::available()) GTEST_SKIP() << "built without Faiss";
  constexpr std::int64_t n = 4000, d = 24, q = 200;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> items(n * d), queries(q * d);
  for (float& x : items) x = normal(rng);
  for (float& x : queries) x = normal(rng);
  // Four links per node: a sparse graph, where the beam width decides what is found.
  const double narrow = recall_at_1(*AnnIndex::hnsw(items.data(), n, d, 4, 1), items, queries, d);
  const double wide = recall_at_1(*AnnIndex::hnsw(items.data(), n, d, 4, 1000), items, queries, d);
  EXPECT_GE(wide, 0.98) << "narrow " << narrow;
  EXPECT_LT(narrow, wide - 0.05) << "--ann-ef-search 1 found as much as 1000: the setting has no effect";
}

}  // namespace
}  // namespace recforge::serve
