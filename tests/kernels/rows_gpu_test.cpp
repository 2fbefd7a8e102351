// CPU-vs-CUDA parity of the row kernels, SGD and reductions.
#include <gtest/gtest.h>

#include <cmath>

#include "recforge/core/philox.hpp"
#include "recforge/kernels/optim.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/kernels/reduce.hpp"
#include "recforge/kernels/rows.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge::kernels {
namespace {

Tensor random_ids(std::int64_t n, std::int32_t rows, std::uint64_t seed) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) ids[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(philox_below(seed, 1, static_cast<std::uint64_t>(k), static_cast<std::uint32_t>(rows)));
  return Tensor::from_vector(ids);
}

Tensor random_values(Shape shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  fill_uniform(Resources::cpu(), t, -1, 1, seed, 2);
  return t;
}

class RowsParity : public ::testing::TestWithParam<std::pair<std::int64_t, std::int64_t>> {};

TEST_P(RowsParity, CoalesceIsBitIdentical) {
  RF_SKIP_WITHOUT_GPU();
  const auto [n, d] = GetParam();
  const Resources gpu = Resources::cuda(0);
  const Tensor ids = random_ids(n, 97, 1), values = random_values({n, d}, 2);
  Tensor cpu_ids, cpu_values, gpu_ids, gpu_values;
  coalesce_rows(Resources::cpu(), ids, values, cpu_ids, cpu_values);
  coalesce_rows(gpu, ids.to(gpu.device(), gpu.stream()), values.to(gpu.device(), gpu.stream()), gpu_ids, gpu_values);
  const Tensor ids_back = gpu_ids.to(Device::cpu(), gpu.stream());
  gpu.synchronize();
  EXPECT_EQ(ids_back.to_vector<std::int32_t>(), cpu_ids.to_vector<std::int32_t>());
  RF_EXPECT_TENSOR_NEAR(gpu_values, cpu_values, 0.0);
}

TEST_P(RowsParity, ScatterGatherSgdAndReductions) {
  RF_SKIP_WITHOUT_GPU();
  const auto [n, d] = GetParam();
  const Resources gpu = Resources::cuda(0);
  const Tensor ids = random_ids(n, 97, 3), values = random_values({n, d}, 4);
  Tensor cpu_table = Tensor::zeros({97, d}, DType::kF32);
  Tensor gpu_table = cpu_table.to(gpu.device(), gpu.stream());
  scatter_add_rows(Resources::cpu(), cpu_table, ids, values);
  scatter_add_rows(gpu, gpu_table, ids.to(gpu.device(), gpu.stream()), values.to(gpu.device(), gpu.stream()));
  gpu.synchronize();
  RF_EXPECT_TENSOR_NEAR(gpu_table, cpu_table, 0.0);  // the same folds in the same order
  EXPECT_NEAR(sum_squares(gpu, gpu_table), sum_squares(Resources::cpu(), cpu_table), 1e-6 * (1 + sum_squares(Resources::cpu(), cpu_table)));
  // Two tensors tallied into slots on the device, read once.
  Tensor slots = Tensor::zeros({2}, DType::kI64, gpu.device(), gpu.stream());
  tally_sum_squares(gpu, gpu_table, slots, 1);
  tally_sum_squares(gpu, gpu_table, slots, 1);
  const std::vector<double> sums = read_sums(gpu, slots);
  EXPECT_EQ(sums[0], 0.0);
  EXPECT_NEAR(sums[1], 2 * sum_squares(Resources::cpu(), cpu_table), 2e-6 * (1 + sum_squares(Resources::cpu(), cpu_table)));
  Tensor plain = Tensor::zeros({1}, DType::kI64), plain_gpu = plain.to(gpu.device(), gpu.stream());
  tally_sum(Resources::cpu(), cpu_table, plain, 0);
  tally_sum(gpu, gpu_table, plain_gpu, 0);
  EXPECT_NEAR(read_sums(gpu, plain_gpu)[0], read_sums(Resources::cpu(), plain)[0], 1e-6 * (1 + sum_squares(Resources::cpu(), cpu_table)));
  Tensor velocity_cpu = Tensor::zeros({97, d}, DType::kF32), velocity_gpu = velocity_cpu.to(gpu.device(), gpu.stream());
  Tensor unique_ids, rows;
  coalesce_rows(Resources::cpu(), ids, values, unique_ids, rows);
  const SgdOptions o{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f};
  Tensor cpu_weights = random_values({97, d}, 5), gpu_weights = cpu_weights.to(gpu.device(), gpu.stream());
  sgd_rows(Resources::cpu(), cpu_weights, velocity_cpu, unique_ids, rows, o);
  sgd_rows(gpu, gpu_weights, velocity_gpu, unique_ids.to(gpu.device(), gpu.stream()), rows.to(gpu.device(), gpu.stream()), o);
  gpu.synchronize();
  RF_EXPECT_TENSOR_NEAR(gpu_weights, cpu_weights, 1e-6, 1e-6);
  EXPECT_EQ(count_nonfinite(gpu, gpu_weights), 0);
}

// A hot row (SASRec's shared padding row takes half of a packed batch's rows)
// onto a table with values in it: equal to the CPU's serial fold, and the same
// bits on a second run (atomics would add in whatever order the threads come).
TEST_P(RowsParity, ScatterAddOfAHotRowIsExactAndRepeatable) {
  RF_SKIP_WITHOUT_GPU();
  const auto [n, d] = GetParam();
  const Resources gpu = Resources::cuda(0);
  Tensor ids = random_ids(n, 97, 8);
  for (std::int64_t k = 0; k < n; k += 2) ids.data_as<std::int32_t>()[k] = 5;
  const Tensor values = random_values({n, d}, 9), start = random_values({97, d}, 10);
  Tensor cpu_table = start.to(Device::cpu());
  scatter_add_rows(Resources::cpu(), cpu_table, ids, values);
  const Tensor gpu_ids = ids.to(gpu.device(), gpu.stream()), gpu_values = values.to(gpu.device(), gpu.stream());
  for (int run = 0; run < 2; ++run) {
    Tensor gpu_table = start.to(gpu.device(), gpu.stream());
    scatter_add_rows(gpu, gpu_table, gpu_ids, gpu_values);
    gpu.synchronize();
    RF_EXPECT_TENSOR_NEAR(gpu_table, cpu_table, 0.0) << "run " << run;
  }
}

TEST_P(RowsParity, CountNonfiniteRowsMatchesTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const auto [n, d] = GetParam();
  const Resources gpu = Resources::cuda(0);
  Tensor table = random_values({97, d}, 6);
  float* t = table.data_as<float>();
  for (std::int64_t i = 0; i < 97 * d; i += 7) t[i] = i % 2 ? NAN : -INFINITY;  // every 7th value
  const Tensor ids = random_ids(n, 97, 7);
  EXPECT_EQ(count_nonfinite_rows(gpu, table.to(gpu.device(), gpu.stream()), ids.to(gpu.device(), gpu.stream())),
            count_nonfinite_rows(Resources::cpu(), table, ids));
}

// Many tensors tallied into one device counts tensor and read back once, as
// the trainer checks a step: the same slots as the CPU reference.
TEST_P(RowsParity, TallyIntoSlotsMatchesTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const auto [n, d] = GetParam();
  const Resources gpu = Resources::cuda(0);
  Tensor table = random_values({97, d}, 8);
  float* t = table.data_as<float>();
  for (std::int64_t i = 0; i < 97 * d; i += 5) t[i] = NAN;
  const Tensor ids = random_ids(n, 97, 9);
  const Tensor gpu_table = table.to(gpu.device(), gpu.stream()), gpu_ids = ids.to(gpu.device(), gpu.stream());
  Tensor cpu_counts = Tensor::zeros({3}, DType::kI64);
  Tensor gpu_counts = Tensor::zeros({3}, DType::kI64, gpu.device(), gpu.stream());
  for (int repeat = 0; repeat < 2; ++repeat) {  // slots accumulate
    tally_nonfinite(Resources::cpu(), table, cpu_counts, 0);
    tally_nonfinite(gpu, gpu_table, gpu_counts, 0);
    tally_nonfinite_rows(Resources::cpu(), table, ids, cpu_counts, 2);
    tally_nonfinite_rows(gpu, gpu_table, gpu_ids, gpu_counts, 2);
  }
  EXPECT_EQ(read_counts(gpu, gpu_counts), read_counts(Resources::cpu(), cpu_counts));
  EXPECT_EQ(read_counts(gpu, gpu_counts)[1], 0);
}

INSTANTIATE_TEST_SUITE_P(Sizes, RowsParity,
                         ::testing::Values(std::pair<std::int64_t, std::int64_t>{0, 4}, std::pair<std::int64_t, std::int64_t>{1, 1},
                                           std::pair<std::int64_t, std::int64_t>{1000, 64}, std::pair<std::int64_t, std::int64_t>{4096, 33}),
                         [](const auto& info) { return "n" + std::to_string(info.param.first) + "_d" + std::to_string(info.param.second); });

}  // namespace
}  // namespace recforge::kernels
