// One ALS half-iteration's CG solve (plugins/als), CPU and CUDA side by side:
// 50,000 rows with 20 interactions each against 20,000 fixed rows, D = 64,
// 3 CG steps (the default), warm-started. FLOPs as benchmarks/als/als_bench.sh
// counts them: per CG product A v, 2 D^2 (Gram term) + 4 D per interaction.
#include <random>
#include <vector>

#include "als/als_kernels.hpp"
#include "bench_util.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge {
namespace {

void BM_AlsSolveCg(benchmark::State& state) {
  const bool cuda = state.range(0) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = cuda ? Resources::cuda(0) : Resources::cpu();
  const std::int64_t rows = 50000, others = 20000, per_row = 20, d = 64;
  std::mt19937_64 rng(3);
  std::vector<std::int64_t> offsets(rows + 1);
  std::vector<std::int32_t> cols(static_cast<std::size_t>(rows * per_row));
  for (std::int64_t r = 0; r < rows; ++r) {
    offsets[static_cast<std::size_t>(r + 1)] = (r + 1) * per_row;
    for (std::int64_t j = 0; j < per_row; ++j) {
      cols[static_cast<std::size_t>(r * per_row + j)] = static_cast<std::int32_t>(rng() % others);
    }
  }
  Tensor factors = Tensor::empty({rows, d}, DType::kF32, res.device(), res.stream());
  Tensor other = Tensor::empty({others, d}, DType::kF32, res.device(), res.stream());
  kernels::fill_normal(res, factors, 0.0f, 0.1f, 1, 0);
  kernels::fill_normal(res, other, 0.0f, 0.1f, 2, 0);
  Tensor gram = Tensor::empty({d, d}, DType::kF32, res.device(), res.stream());
  als::gram(res, other, gram);
  const Tensor off = Tensor::from_vector(offsets).to(res.device(), res.stream());
  const Tensor col = Tensor::from_vector(cols).to(res.device(), res.stream());
  const Tensor weights = Tensor::from_vector(std::vector<float>(cols.size(), 40.0f)).to(res.device(), res.stream());
  const Tensor targets = Tensor::from_vector(std::vector<float>(cols.size(), 1.0f)).to(res.device(), res.stream());
  als::Problem problem{factors, other, gram, off, col, weights, targets, 0, rows};
  const als::Options options;
  for (auto _ : state) {
    als::solve_cg(res, problem, options);
    res.synchronize();
  }
  const double products = static_cast<double>(options.cg_steps + 1) * rows;
  const double flops = products * 2.0 * d * d + static_cast<double>(options.cg_steps + 1) * 4.0 * d * rows * per_row;
  // Each product reads the row's interaction factors (gathered) and its own vectors.
  const double bytes = (options.cg_steps + 1) * (static_cast<double>(rows) * per_row * (d * 4 + 8) + rows * d * 4 * 3.0);
  const auto n = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes * n / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * n / 1e9, benchmark::Counter::kIsRate);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(rows) * n, benchmark::Counter::kIsRate);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

BENCHMARK(BM_AlsSolveCg)->Name("als_solve_cg")->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace recforge
