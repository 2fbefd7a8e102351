// Exact top-10 of `recforge serve` over 59,047 items at d = 64 (the ML-25M
// shape): queries per second of the batched scorer for batches of 1..32
// queries (one thread), ~150 excluded training items per query.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "recforge/core/philox.hpp"
#include "recforge/serve/snapshot.hpp"
#include "serve/score_batcher.hpp"

namespace recforge::serve {
namespace {

constexpr std::int64_t kItems = 59047, kDim = 64;

std::vector<float> random_rows(std::int64_t rows, std::uint64_t stream) {
  std::vector<float> v(static_cast<std::size_t>(rows * kDim));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = philox_uniform(3, stream, i) - 0.5f;
  return v;
}

void BM_ExactTopK(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::vector<float> items = random_rows(kItems, 1), queries = random_rows(batch, 2);
  std::vector<std::vector<std::int32_t>> exclude(static_cast<std::size_t>(batch));
  for (int q = 0; q < batch; ++q) {
    for (int j = 0; j < 150; ++j) exclude[q].push_back(static_cast<std::int32_t>(philox_below(4, q, j, kItems)));
    std::sort(exclude[q].begin(), exclude[q].end());
  }
  ScoreBatcher batcher(items.data(), kItems, kDim, batch, 1);
  for (auto _ : state) {
    std::vector<std::vector<ScoredItem>> results(static_cast<std::size_t>(batch));
    batcher.score_together(queries.data(), batch, 10, exclude, results);
    benchmark::DoNotOptimize(results);
  }
  state.counters["queries/s"] = benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["item_GB/s"] =
      benchmark::Counter(static_cast<double>(kItems * kDim * 4) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_ExactTopK)->ArgName("batch")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Arg(32)->UseRealTime();

}  // namespace
}  // namespace recforge::serve
