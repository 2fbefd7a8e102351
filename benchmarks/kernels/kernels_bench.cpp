// The hot kernels, CPU and CUDA side by side (second argument 0 = CPU, 1 = CUDA;
// CUDA cases are skipped without a GPU), each with the bytes it must move and
// the FLOPs it must do so a result reads against the machine's limits:
//   gather_rows / scatter_add_rows   embedding lookups and sparse row gradients
//   gemm                             the GEMM wrapper (OpenBLAS / cuBLAS)
//   spmm                             CSR x dense (LightGCN propagation)
//   fused_attention fwd / bwd        SASRec's causal attention (L = 200, d = 50)
//   step_nonfinite_check             the trainer's per-step NaN/Inf check of 20
//                                    small tensors: one read-back per tensor
//                                    (count_nonfinite) against one tally read once
// Counters: GB/s and GFLOP/s (per second of real time).
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/fused_attention.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/kernels/rows.hpp"
#include "recforge/kernels/sparse.hpp"

namespace recforge {
namespace {

Resources resources_for(bool cuda) { return cuda ? Resources::cuda(0) : Resources::cpu(); }

Tensor uniform(const Resources& res, const Shape& shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::kF32, res.device(), res.stream());
  kernels::fill_uniform(res, t, -1.0f, 1.0f, seed, 0);
  return t;
}

Tensor random_ids(const Resources& res, std::int64_t count, std::int64_t rows, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(count));
  for (auto& id : ids) id = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(rows));
  return Tensor::from_vector(ids).to(res.device(), res.stream());
}

void rate_counters(benchmark::State& state, double bytes, double flops) {
  const auto n = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes * n / 1e9, benchmark::Counter::kIsRate);
  if (flops > 0) state.counters["GFLOP/s"] = benchmark::Counter(flops * n / 1e9, benchmark::Counter::kIsRate);
}

// (table rows, width) = (200,000, 64); 65,536 random ids per call.
constexpr std::int64_t kTableRows = 200000, kIds = 65536;

void BM_GatherRows(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = resources_for(cuda);
  const std::int64_t d = state.range(0);
  const Tensor table = uniform(res, {kTableRows, d}, 1);
  const Tensor ids = random_ids(res, kIds, kTableRows, 2);
  Tensor out = Tensor::empty({kIds, d}, DType::kF32, res.device(), res.stream());
  for (auto _ : state) {
    kernels::gather_rows(res, table, ids, out);
    res.synchronize();
  }
  rate_counters(state, static_cast<double>(kIds) * (2.0 * d * 4 + 4), 0);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

void BM_ScatterAddRows(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = resources_for(cuda);
  const std::int64_t d = state.range(0);
  Tensor table = uniform(res, {kTableRows, d}, 1);
  const Tensor ids = random_ids(res, kIds, kTableRows, 2);
  const Tensor values = uniform(res, {kIds, d}, 3);
  for (auto _ : state) {
    kernels::scatter_add_rows(res, table, ids, values);
    res.synchronize();
  }
  // Read the value row, read and write the table row.
  rate_counters(state, static_cast<double>(kIds) * (3.0 * d * 4 + 4), static_cast<double>(kIds) * d);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

void BM_Gemm(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = resources_for(cuda);
  const std::int64_t n = state.range(0);
  const Tensor a = uniform(res, {n, n}, 1), b = uniform(res, {n, n}, 2);
  Tensor c = Tensor::empty({n, n}, DType::kF32, res.device(), res.stream());
  for (auto _ : state) {
    kernels::gemm(res, a, b, c);
    res.synchronize();
  }
  rate_counters(state, 3.0 * n * n * 4, 2.0 * n * n * n);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

// A random CSR matrix (rows x cols, nnz entries, sorted columns per row).
struct Csr {
  Tensor offsets, columns, values;
  kernels::CsrView view(std::int64_t rows, std::int64_t cols) const { return {offsets, columns, values, rows, cols}; }
};

Csr random_csr(const Resources& res, std::int64_t rows, std::int64_t cols, std::int64_t per_row) {
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(rows + 1));
  std::vector<std::int32_t> columns;
  columns.reserve(static_cast<std::size_t>(rows * per_row));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<std::int32_t> row(static_cast<std::size_t>(per_row));
    for (auto& c : row) c = static_cast<std::int32_t>(rng() % static_cast<std::uint64_t>(cols));
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    columns.insert(columns.end(), row.begin(), row.end());
    offsets[static_cast<std::size_t>(r + 1)] = static_cast<std::int64_t>(columns.size());
  }
  std::vector<float> values(columns.size(), 0.1f);
  return {Tensor::from_vector(offsets).to(res.device(), res.stream()),
          Tensor::from_vector(columns).to(res.device(), res.stream()),
          Tensor::from_vector(values).to(res.device(), res.stream())};
}

void BM_Spmm(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = resources_for(cuda);
  const std::int64_t rows = 100000, d = state.range(0);
  const Csr a = random_csr(res, rows, rows, 10);
  const auto nnz = static_cast<double>(a.columns.numel());
  const Tensor x = uniform(res, {rows, d}, 1);
  Tensor y = Tensor::empty({rows, d}, DType::kF32, res.device(), res.stream());
  for (auto _ : state) {
    kernels::spmm(res, a.view(rows, rows), x, y, false);
    res.synchronize();
  }
  // Index and value per entry, one x row per entry (uncached worst case), y written once.
  rate_counters(state, nnz * (4 + 4 + d * 4.0) + static_cast<double>(rows) * (d * 4 + 8), 2.0 * nnz * d);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

// SASRec's shape: 128 sequences of length 200, d = 50, one head.
template <bool kBackward>
void BM_FusedAttention(benchmark::State& state) {
  const bool cuda = state.range(0) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = resources_for(cuda);
  const std::int64_t sequences = 128, length = 200, d = 50, rows = sequences * length;
  const Tensor q = uniform(res, {rows, d}, 1), k = uniform(res, {rows, d}, 2), v = uniform(res, {rows, d}, 3);
  Tensor out = Tensor::empty({rows, d}, DType::kF32, res.device(), res.stream());
  Tensor lse = Tensor::empty({rows, 1}, DType::kF32, res.device(), res.stream());
  kernels::AttentionOptions options;
  options.sequences = sequences;
  options.scale = 1.0f / std::sqrt(static_cast<float>(d));
  kernels::fused_causal_attention(res, q, k, v, options, out, lse);
  const Tensor dout = uniform(res, {rows, d}, 4);
  Tensor dq = Tensor::zeros({rows, d}, DType::kF32, res.device(), res.stream());
  Tensor dk = Tensor::zeros({rows, d}, DType::kF32, res.device(), res.stream());
  Tensor dv = Tensor::zeros({rows, d}, DType::kF32, res.device(), res.stream());
  for (auto _ : state) {
    if constexpr (kBackward) {
      kernels::fused_causal_attention_backward(res, q, k, v, out, lse, dout, options, dq, dk, dv);
    } else {
      kernels::fused_causal_attention(res, q, k, v, options, out, lse);
    }
    res.synchronize();
  }
  // Causal: about half of the L x L scores. Forward: Q K^T and P V; the
  // backward recomputes Q K^T and does four more products of that size.
  const double half_square = static_cast<double>(sequences) * length * (length + 1) / 2;
  const double flops = half_square * d * 2 * (kBackward ? 5 : 2);
  const double bytes = static_cast<double>(rows) * d * 4 * (kBackward ? 8 : 4);
  rate_counters(state, bytes, flops);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

// A step's check of 10 parameters (value and gradient, 128 x 128 each): on a
// GPU the cost is the syncs, not the bytes (first argument 0 = a read-back per
// tensor, 1 = all tallied into one counts tensor, read back once).
void BM_StepNonfiniteCheck(benchmark::State& state) {
  const bool tallied = state.range(0) == 1, cuda = state.range(1) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = resources_for(cuda);
  std::vector<Tensor> tensors;
  for (std::uint64_t k = 0; k < 20; ++k) tensors.push_back(uniform(res, {128, 128}, 10 + k));
  std::int64_t bad = 0;
  for (auto _ : state) {
    if (tallied) {
      Tensor counts = Tensor::zeros({static_cast<std::int64_t>(tensors.size())}, DType::kI64, res.device(), res.stream());
      for (std::size_t k = 0; k < tensors.size(); ++k)
        kernels::tally_nonfinite(res, tensors[k], counts, static_cast<std::int64_t>(k));
      for (std::int64_t c : kernels::read_counts(res, counts)) bad += c;
    } else {
      for (const Tensor& t : tensors) bad += kernels::count_nonfinite(res, t);
    }
  }
  benchmark::DoNotOptimize(bad);
  rate_counters(state, 20.0 * 128 * 128 * 4, 0);
  state.SetLabel(std::string(cuda ? "cuda" : "cpu") + (tallied ? ", tallied" : ", per tensor"));
}

BENCHMARK(BM_GatherRows)->Name("gather_rows")->ArgsProduct({{64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_ScatterAddRows)->Name("scatter_add_rows")->ArgsProduct({{64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_Gemm)->Name("gemm")->ArgsProduct({{256, 1024}, {0, 1}})->UseRealTime();
BENCHMARK(BM_Spmm)->Name("spmm")->ArgsProduct({{64}, {0, 1}})->UseRealTime();
BENCHMARK(BM_FusedAttention<false>)->Name("fused_attention_forward")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_FusedAttention<true>)->Name("fused_attention_backward")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_StepNonfiniteCheck)->Name("step_nonfinite_check")->ArgsProduct({{0, 1}, {0, 1}})->UseRealTime();

}  // namespace
}  // namespace recforge
