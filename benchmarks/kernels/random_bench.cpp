// fill_uniform / fill_normal throughput, CPU and CUDA side by side (bytes/s written).
#include "bench_util.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/random.hpp"

namespace recforge {
namespace {

template <bool kNormal>
void BM_Fill(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!bench::device_available(state, cuda)) return;
  const Resources res = cuda ? Resources::cuda(0) : Resources::cpu();
  Tensor t = Tensor::empty({state.range(0)}, DType::kF32, res.device(), res.stream());
  for (auto _ : state) {
    if constexpr (kNormal) {
      kernels::fill_normal(res, t, 0.0f, 1.0f, 1, 2);
    } else {
      kernels::fill_uniform(res, t, 0.0f, 1.0f, 1, 2);
    }
    res.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * 4);
  state.SetLabel(cuda ? "cuda" : "cpu");
}

BENCHMARK(BM_Fill<false>)->Name("fill_uniform")->ArgsProduct({{1 << 16, 1 << 22}, {0, 1}})->UseRealTime();
BENCHMARK(BM_Fill<true>)->Name("fill_normal")->ArgsProduct({{1 << 16, 1 << 22}, {0, 1}})->UseRealTime();

}  // namespace
}  // namespace recforge
