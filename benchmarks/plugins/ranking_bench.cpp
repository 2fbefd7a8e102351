// Full-ranking evaluation cost, CPU and CUDA side by side (ML-25M item count,
// d = 64, K = 10): the GEMM of a user block, masking, top-K (custom selection vs
// sort), metric accumulation, and the whole pipeline in users/s. BM_SgemmPeak
// is the BLAS's own best on a large square product: the machine's practical peak.
// On the CPU the evaluator runs score_topk, which scores in L2-sized tiles:
// BM_TiledGemm is its GEMM part alone (the same tiles, nothing consumes them),
// BM_ScoreTopk the GEMM + mask + top-K it replaces.
#include <cmath>

#include "bench_util.hpp"
#include "ranking/ranking_kernels.hpp"
#include "ranking/score_tiles.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge::ranking {
namespace {

constexpr std::int64_t kItems = 59047, kDim = 64, kK = 10;
std::int64_t kBlock = 1024;  // users per block: benchmark argument 1

struct Problem {
  Resources res;
  Tensor users, items, scores, ids, values, off, cols, rel_off, rel_cols, groups, info, sums, counts, marks;
};

Problem make(bool cuda) {
  Problem p{cuda ? Resources::cuda(0) : Resources::cpu()};
  const Device d = p.res.device();
  const auto on = [&](const Tensor& t) { return cuda ? t.to(d, p.res.stream()) : t; };
  p.users = Tensor::empty({kBlock, kDim}, DType::kF32, d, p.res.stream());
  p.items = Tensor::empty({kItems, kDim}, DType::kF32, d, p.res.stream());
  kernels::fill_normal(p.res, p.users, 0, 1, 1, 1);
  kernels::fill_normal(p.res, p.items, 0, 1, 1, 2);
  p.scores = Tensor::empty({kBlock, kItems}, DType::kF32, d, p.res.stream());
  p.ids = Tensor::empty({kBlock, kK}, DType::kI32, d, p.res.stream());
  p.values = Tensor::empty({kBlock, kK}, DType::kF32, d, p.res.stream());
  // ~150 training and ~40 held-out items per user (ML-25M averages).
  std::vector<std::int64_t> off = {0}, rel_off = {0};
  std::vector<std::int32_t> cols, rel_cols, groups(kBlock, 0);
  for (std::int64_t u = 0; u < kBlock; ++u) {
    for (int j = 0; j < 150; ++j) cols.push_back(static_cast<std::int32_t>(philox_below(2, u, j, kItems)));
    std::sort(cols.end() - 150, cols.end());
    off.push_back(static_cast<std::int64_t>(cols.size()));
    for (int j = 0; j < 40; ++j) rel_cols.push_back(static_cast<std::int32_t>(philox_below(3, u, j, kItems)));
    std::sort(rel_cols.end() - 40, rel_cols.end());
    rel_off.push_back(static_cast<std::int64_t>(rel_cols.size()));
  }
  p.off = on(Tensor::from_vector(off));
  p.cols = on(Tensor::from_vector(cols));
  p.rel_off = on(Tensor::from_vector(rel_off));
  p.rel_cols = on(Tensor::from_vector(rel_cols));
  p.groups = on(Tensor::from_vector(groups));
  p.info = on(Tensor::from_vector(std::vector<float>(kItems, 3.0f)));
  p.sums = Tensor::zeros({1, 2 * kMetricsPerK}, DType::kI64, d, p.res.stream());
  p.counts = Tensor::zeros({1}, DType::kI64, d, p.res.stream());
  p.marks = Tensor::zeros({2, kItems}, DType::kI32, d, p.res.stream());
  kernels::gemm(p.res, p.users, p.items, p.scores, {.trans_b = true});
  p.res.synchronize();
  return p;
}

MetricSpec spec() {
  MetricSpec s;
  s.cutoffs = 2;
  s.k[0] = 5;
  s.k[1] = 10;
  return s;
}

// Times `step` on a block of state.range(1) users on the device state.range(0)
// names (1: CUDA), synchronising after each, and reports users/s; `before`
// runs once, untimed. False (the benchmark skipped) without that device.
template <class Step, class Before = void (*)(Problem&)>
bool time_block(benchmark::State& state, Step step, Before before = [](Problem&) {}) {
  kBlock = state.range(1);
  const bool cuda = state.range(0) == 1;
  if (!bench::device_available(state, cuda)) return false;
  Problem p = make(cuda);
  before(p);
  for (auto _ : state) {
    step(p);
    p.res.synchronize();
  }
  state.counters["users/s"] = benchmark::Counter(kBlock, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(cuda ? "cuda" : "cpu");
  return true;
}

void BM_Gemm(benchmark::State& state) {
  if (!time_block(state, [](Problem& p) { kernels::gemm(p.res, p.users, p.items, p.scores, {.trans_b = true}); })) return;
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kBlock * kItems * kDim / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

template <bool kSort>
void BM_Topk(benchmark::State& state) {
  if (!time_block(state, [](Problem& p) {
        kSort ? topk_by_sort(p.res, p.scores, p.ids, p.values) : topk(p.res, p.scores, p.ids, p.values);
      })) {
    return;
  }
  state.SetBytesProcessed(state.iterations() * kBlock * kItems * 4);
}

// The evaluator's per-block work after the top-K: metric sums and coverage marks.
void metrics_and_marks(Problem& p) {
  metrics(p.res, MetricInputs{p.ids, p.rel_off, p.rel_cols, Tensor::empty({0}, DType::kF32), p.groups, p.info,
                              Tensor::empty({0, 1}, DType::kF32)},
          spec(), p.sums, p.counts);
  mark_items(p.res, p.ids, spec(), p.marks);
}

void BM_MaskAndMetrics(benchmark::State& state) {
  time_block(
      state,
      [](Problem& p) {
        mask(p.res, p.scores, p.off, p.cols);
        metrics_and_marks(p);
      },
      [](Problem& p) { topk(p.res, p.scores, p.ids, p.values); });
}

void BM_TiledGemm(benchmark::State& state) {
  kBlock = state.range(1);
  Problem p = make(false);
  for (auto _ : state) {
    for_each_score_tile(p.users.data_as<float>(), kBlock, p.items.data_as<float>(), kItems, kDim,
                        [](const ScoreTile& t) { benchmark::DoNotOptimize(t.scores[0]); });
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kBlock * kItems * kDim / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["users/s"] = benchmark::Counter(kBlock, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("cpu");
}

void BM_ScoreTopk(benchmark::State& state) {
  time_block(state, [](Problem& p) { score_topk(p.res, p.users, p.items, p.off, p.cols, p.ids, p.values); });
}

// What the evaluator runs per block of a factor model.
void BM_Pipeline(benchmark::State& state) {
  time_block(state, [](Problem& p) {
    score_topk(p.res, p.users, p.items, p.off, p.cols, p.ids, p.values);
    metrics_and_marks(p);
  });
}

void BM_SgemmPeak(benchmark::State& state) {
  const bool cuda = state.range(0) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = cuda ? Resources::cuda(0) : Resources::cpu();
  const std::int64_t n = cuda ? 8192 : 2048;
  Tensor a = Tensor::zeros({n, n}, DType::kF32, res.device(), res.stream());
  Tensor b = Tensor::zeros({n, n}, DType::kF32, res.device(), res.stream());
  Tensor c = Tensor::zeros({n, n}, DType::kF32, res.device(), res.stream());
  for (auto _ : state) {
    kernels::gemm(res, a, b, c);
    res.synchronize();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

BENCHMARK(BM_SgemmPeak)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
// Arguments: device (0 CPU, 1 CUDA), users per block.
const std::vector<std::vector<std::int64_t>> kShapes = {{0, 1}, {32, 128, 1024}};
BENCHMARK(BM_Gemm)->ArgsProduct(kShapes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Topk<false>)->Name("BM_TopkSelect")->ArgsProduct(kShapes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Topk<true>)->Name("BM_TopkSort")->ArgsProduct({{0, 1}, {128}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MaskAndMetrics)->ArgsProduct(kShapes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TiledGemm)->ArgsProduct({{0}, {32, 128, 1024}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ScoreTopk)->ArgsProduct(kShapes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Pipeline)->ArgsProduct(kShapes)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace recforge::ranking
