// Checkpoint publish and verified load at the ML-25M shape (162,541 users,
// 59,047 items, k = 64: 57 MB of factors), through the same repository and
// HDF5 code as `recforge train` and `recforge serve`:
//   write: HDF5 file (row chunks, Fletcher32) + SHA-256 manifest + fsyncs + rename
//   read:  SHA-256 verification of the bytes + open from memory + every dataset read
// Argument 0: parameters only (ALS factors, no optimizer slots); 1: the whole
// checkpoint the trainer writes (+ serving embeddings, seen lists of 24.8M
// training interactions, item popularity, original ids).
// The files go to $RECFORGE_BENCH_DIR (default: the system temporary directory).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"
#include "recforge/core/philox.hpp"

namespace recforge::checkpoint {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kUsers = 162541, kItems = 59047, kDim = 64, kTrainInteractions = 24837554;

Tensor random_factors(std::int64_t rows, std::uint64_t stream) {
  Tensor t = Tensor::empty({rows, kDim}, DType::kF32, Device::cpu());
  float* p = t.data_as<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = philox_uniform(7, stream, static_cast<std::uint64_t>(i)) - 0.5f;
  return t;
}

Contents ml25m_contents(bool full) {
  Contents c;
  c.meta.model_type = "als";
  c.meta.dataset_name = "synthetic/ml25m";
  c.meta.dataset_fingerprint = "benchmark";
  c.meta.config_yaml = "model: {type: als, factors: 64}\n";
  c.params.push_back({"user_factors", "embedding", random_factors(kUsers, 1), {}});
  c.params.push_back({"item_factors", "embedding", random_factors(kItems, 2), {}});
  std::vector<std::int64_t> user_ids(kUsers), item_ids(kItems);
  std::iota(user_ids.begin(), user_ids.end(), 1);
  std::iota(item_ids.begin(), item_ids.end(), 1);
  c.users = data::IdMap::integers(user_ids);
  c.items = data::IdMap::integers(item_ids);
  if (full) {
    c.serving.user_embeddings = c.params[0].value;
    c.serving.item_embeddings = c.params[1].value;
    c.serving.item_popularity.assign(kItems, kTrainInteractions / kItems);
    c.serving.seen_offsets.resize(kUsers + 1);
    for (std::int64_t u = 0; u <= kUsers; ++u) c.serving.seen_offsets[u] = u * kTrainInteractions / kUsers;
    c.serving.seen_items.resize(kTrainInteractions);
    for (std::int64_t r = 0; r < kTrainInteractions; ++r) {
      c.serving.seen_items[r] = static_cast<std::int32_t>(philox_below(7, 3, static_cast<std::uint64_t>(r), kItems));
    }
  } else {
    c.serving.item_popularity.assign(kItems, 0);
    c.serving.seen_offsets.assign(kUsers + 1, 0);
  }
  return c;
}

fs::path bench_dir(const char* name) {
  const char* base = std::getenv("RECFORGE_BENCH_DIR");
  const fs::path dir = fs::path(base != nullptr ? base : fs::temp_directory_path().string()) / name;
  fs::remove_all(dir);
  return dir;
}

Manifest manifest_of(const Contents& c, std::int64_t step) {
  Manifest m;
  m.format_version = kFormatVersion;
  m.step = step;
  m.world_size = 1;
  m.model_type = c.meta.model_type;
  m.config_sha256 = "benchmark";
  m.dataset_fingerprint = c.meta.dataset_fingerprint;
  m.created = utc_timestamp();
  return m;
}

void BM_CheckpointWrite(benchmark::State& state) {
  const Contents c = ml25m_contents(state.range(0) == 1);
  const fs::path dir = bench_dir("recforge-checkpoint-bench-write");
  CheckpointRepository repository(dir.string());
  std::int64_t step = 0, bytes = 0;
  for (auto _ : state) {
    const Version v =
        repository.publish(++step, [&](const std::string& path) { write_checkpoint(path, c); }, manifest_of(c, step));
    state.PauseTiming();
    bytes = static_cast<std::int64_t>(fs::file_size(fs::path(v.path) / kCheckpointFile));
    repository.apply_retention(Retention{.keep_last = 1});
    state.ResumeTiming();
  }
  state.counters["file_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["write_MB/s"] =
      benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
  fs::remove_all(dir);
}

void BM_CheckpointRead(benchmark::State& state) {
  const bool full = state.range(0) == 1;
  const fs::path dir = bench_dir("recforge-checkpoint-bench-read");
  CheckpointRepository repository(dir.string());
  {
    const Contents c = ml25m_contents(full);
    repository.publish(1, [&](const std::string& path) { write_checkpoint(path, c); }, manifest_of(c, 1));
  }
  std::int64_t bytes = 0;
  for (auto _ : state) {
    const std::optional<LoadedVersion> loaded = repository.load_latest();
    CheckpointReader reader(loaded->checkpoint_bytes, loaded->version.path);
    for (const std::string& name : reader.parameter_names()) benchmark::DoNotOptimize(reader.parameter(name));
    benchmark::DoNotOptimize(reader.users());
    benchmark::DoNotOptimize(reader.items());
    if (full) benchmark::DoNotOptimize(reader.serving());
    bytes = static_cast<std::int64_t>(loaded->checkpoint_bytes->size());
  }
  state.counters["file_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["read_MB/s"] =
      benchmark::Counter(static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
  fs::remove_all(dir);
}

BENCHMARK(BM_CheckpointWrite)->ArgName("full")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CheckpointRead)->ArgName("full")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace recforge::checkpoint
