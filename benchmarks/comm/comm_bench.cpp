// Distributed micro benchmarks, run under mpirun (one process per rank):
//   allreduce  bandwidth for 4 KiB .. 64 MiB f32 buffers
//   exchange   GradientSync of ML-25M-sized embedding tables (162,541 users and
//              59,047 items x 64) for a BPR batch: sparse rows vs dense fallback
//   step       MF-BPR training steps on the ml1m synthetic preset (examples/s)
// Prints Markdown rows on rank 0; medians of `repeats` runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "recforge/comm/runtime.hpp"
#include "recforge/config/job_config.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/generator.hpp"
#include "recforge/data/prepare.hpp"
#include "recforge/log/logging.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/gradient_sync.hpp"
#include "recforge/train/trainer.hpp"

using namespace recforge;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Fn>
double time_collective(Communicator& comm, int repeats, Fn&& fn) {
  std::vector<double> times;
  fn();  // warm-up
  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const auto start = std::chrono::steady_clock::now();
    fn();
    const double local = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    times.push_back(comm.allreduce_double(local, ReduceOp::kMax));
  }
  return median(times);
}

void bench_allreduce(Communicator& comm, int repeats) {
  if (comm.rank() == 0) std::printf("\n| all-reduce (f32 sum) | ranks | median ms | algorithmic GB/s | bus GB/s |\n|---|---|---|---|---|\n");
  for (std::int64_t bytes : {4LL << 10, 256LL << 10, 4LL << 20, 64LL << 20}) {
    Tensor t = Tensor::zeros({bytes / 4}, DType::kF32);
    const double s = time_collective(comm, repeats, [&] { comm.allreduce(t, ReduceOp::kSum); });
    const double algo = static_cast<double>(bytes) / s / 1e9;
    if (comm.rank() == 0) {
      std::printf("| %lld KiB | %d | %.3f | %.2f | %.2f |\n", static_cast<long long>(bytes >> 10), comm.world_size(), s * 1e3,
                  algo, algo * 2.0 * (comm.world_size() - 1) / comm.world_size());
    }
  }
}

void bench_exchange(Communicator& comm, int repeats, std::int64_t batch) {
  const Resources res = Resources::cpu();
  const std::int64_t d = 64;
  Parameter users("users", Tensor::zeros({162541, d}, DType::kF32), Parameter::Kind::kEmbedding);
  Parameter items("items", Tensor::zeros({59047, d}, DType::kF32), Parameter::Kind::kEmbedding);
  // This rank's share of a BPR batch: one user row and two item rows per example,
  // items drawn with a Zipf-like skew (popular rows repeat within the batch).
  const std::int64_t local = batch / comm.world_size();
  const auto fill = [&](std::int64_t n, std::int32_t rows, std::uint64_t stream, bool skewed) {
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) {
      const float u = philox_uniform(comm.rank() + 1, stream, static_cast<std::uint64_t>(k));
      ids[static_cast<std::size_t>(k)] = skewed ? static_cast<std::int32_t>(std::pow(u, 3.0f) * static_cast<float>(rows))
                                                : static_cast<std::int32_t>(u * static_cast<float>(rows));
    }
    return SparseRows{Tensor::from_vector(ids), Tensor::zeros({n, d}, DType::kF32)};
  };
  const SparseRows user_rows = fill(local, 162541, 1, false), item_rows = fill(2 * local, 59047, 2, true);
  if (comm.rank() == 0) {
    std::printf("\n| embedding exchange (ML-25M tables, D=64, global batch %lld) | ranks | median ms | bytes moved per rank |\n|---|---|---|---|\n",
                static_cast<long long>(batch));
  }
  for (const auto& [name, threshold] : {std::pair{"sparse rows", 1e9}, std::pair{"dense all-reduce", 0.0}}) {
    GradientSync sync(comm, res, {.bucket_bytes = 25 << 20, .density_threshold = threshold});
    GradientSyncStats stats;
    const double s = time_collective(comm, repeats, [&] {
      users.rows() = user_rows;
      items.rows() = item_rows;
      stats = sync.synchronize({&users, &items});
    });
    const double moved = threshold > 0 ? static_cast<double>(stats.sparse_rows) * (d * 4 + 4)
                                       : static_cast<double>(stats.dense_bytes);
    if (comm.rank() == 0) std::printf("| %s | %d | %.2f | %.1f MB |\n", name, comm.world_size(), s * 1e3, moved / 1e6);
  }
}

void bench_step(Communicator& comm, std::int64_t batch, std::int64_t steps) {
  const ConfigNode job = resolve_job_config(load_config_string(
      "data: {format: synthetic, synthetic: {preset: ml1m}, split: {method: leave_one_out}, cache: false}\n"
      "model: {type: mf, factors: 64, loss: bpr}\n"
      "train: {epochs: 1, batch_size: " + std::to_string(batch) + ", max_steps: " + std::to_string(steps) +
          ", log_every: 1000000, fingerprint_every: 0}\n",
      "bench.yaml"));
  const data::Dataset dataset = data::prepare_dataset(job.section("data"), 42);
  const Resources res = Resources::cpu();
  auto model = ModelRegistry::instance().get("mf").create(job.section("model"));
  model->build(ModelContext{&dataset, &res, &comm, 42});
  Trainer trainer(job.section("train"), *model, dataset, comm, res, 42, nullptr);
  comm.barrier();
  const auto start = std::chrono::steady_clock::now();
  const TrainSummary summary = trainer.fit();
  const double s = comm.allreduce_double(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                                         ReduceOp::kMax);
  if (comm.rank() == 0) {
    std::printf("| MF-BPR step, D=64, global batch %lld (ml1m preset) | %d | %.2f | %.0f |\n", static_cast<long long>(batch),
                comm.world_size(), s / static_cast<double>(summary.steps) * 1e3,
                static_cast<double>(summary.steps * batch) / s);
  }
}

}  // namespace

int main(int argc, char** argv) {
  DistributedRuntime runtime(&argc, &argv);
  const std::string what = argc > 1 ? argv[1] : "all";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  auto comm = runtime.make_communicator("auto", Device::cpu());
  log::init(comm->rank(), comm->world_size(), log::Level::kWarn);
  if (what == "all" || what == "allreduce") bench_allreduce(*comm, repeats);
  if (what == "all" || what == "exchange") bench_exchange(*comm, repeats, 8192);
  if (what == "all" || what == "step") {
    if (comm->rank() == 0) std::printf("\n| model step | ranks | ms per step | examples/s |\n|---|---|---|---|\n");
    bench_step(*comm, 8192, 60);
  }
  return 0;
}
