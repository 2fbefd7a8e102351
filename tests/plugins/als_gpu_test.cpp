// ALS kernels: CUDA against the CPU reference (Gram, CG, Cholesky, loss), and
// a few epochs of the model on the GPU against the same epochs on the CPU.
#include <gtest/gtest.h>

#include "als/als_kernels.hpp"
#include "als_cases.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge::als {
namespace {

class AlsGpu : public ::testing::TestWithParam<std::tuple<std::int64_t, bool>> {};

TEST_P(AlsGpu, KernelsMatchTheCpuReference) {
  RF_SKIP_WITHOUT_GPU();
  const auto [d, implicit] = GetParam();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const Case host = random_case(300, 500, d, implicit, 11);
  const Case device = host.to(gpu);

  Tensor g = Tensor::empty({d, d}, DType::kF32, gpu.device(), gpu.stream());
  gram(gpu, device.other, g);
  RF_EXPECT_TENSOR_NEAR(g, host.gram, 1e-4, 1e-4) << "gram d " << d;

  Options o{.reg = 0.2f, .unobserved_weight = implicit ? 1.0f : 0.0f, .reg_exponent = implicit ? 0.0f : 1.0f};
  const double gpu_loss = loss(gpu, device.problem(), o);
  EXPECT_NEAR(gpu_loss, loss(cpu, host.problem(), o), 1e-4 * loss(cpu, host.problem(), o));
  EXPECT_EQ(loss(gpu, device.problem(), o), gpu_loss) << "the loss has the same bits run to run";

  for (int steps : {1, 3}) {
    o.cg_steps = steps;
    const Case expected = host.to(cpu), actual = host.to(gpu);
    solve_cg(cpu, expected.problem(), o);
    solve_cg(gpu, actual.problem(), o);
    gpu.synchronize();
    RF_EXPECT_TENSOR_NEAR(actual.factors, expected.factors, 1e-4, 1e-3) << "cg steps " << steps << " d " << d;
  }
  if (d <= 128) {
    const Case expected = host.to(cpu), actual = host.to(gpu);
    solve_cholesky(cpu, expected.problem(), o);
    solve_cholesky(gpu, actual.problem(), o);
    gpu.synchronize();
    RF_EXPECT_TENSOR_NEAR(actual.factors, expected.factors, 1e-4, 1e-3) << "cholesky d " << d;
  } else {
    RF_EXPECT_ERROR(solve_cholesky(gpu, device.problem(), o), ErrorKind::kInvalidArgument, "supports D <= 128");
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, AlsGpu,
                         ::testing::Values(std::make_tuple(8, true), std::make_tuple(33, true), std::make_tuple(64, true),
                                           std::make_tuple(128, true), std::make_tuple(200, true),
                                           std::make_tuple(16, false), std::make_tuple(64, false)));

// As on the CPU: the indefinite row is named and keeps its factors (the
// kernel wrote the factors of its clamped pivots), the others match.
TEST(AlsGpu, AnIndefiniteRowIsNamedAndKeepsItsFactorsAsOnTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const Options o{.reg = 0.1f, .unobserved_weight = 1.0f};
  const Case expected = indefinite_case(), actual = indefinite_case().to(gpu);
  RF_EXPECT_ERROR(solve_cholesky(cpu, expected.problem(), o), ErrorKind::kNumerical, "row 2 are not positive definite");
  RF_EXPECT_ERROR(solve_cholesky(gpu, actual.problem(), o), ErrorKind::kNumerical, "row 2 are not positive definite");
  RF_EXPECT_TENSOR_NEAR(actual.factors, expected.factors, 1e-4, 1e-3);
}

TEST(AlsGpuModel, EpochsOnTheGpuMatchTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const ConfigNode job = testing::tiny_job("model: {type: als, factors: 32, alpha: 10, reg: 0.1}\ntrain: {epochs: 1}\n");
  const data::Dataset dataset = testing::tiny_dataset(job);
  auto comm = make_single_communicator();
  const auto run = [&](const Resources& res) {
    auto model = ModelRegistry::instance().get("als").create(job.section("model"));
    model->build(ModelContext{&dataset, &res, comm.get(), 42});
    double loss_sum = 0;
    for (int e = 0; e < 3; ++e) loss_sum = model->train_epoch(e).loss_sum;
    Tensor users, items;
    EXPECT_TRUE(model->embeddings(users, items));
    Tensor users_back = users.to(Device::cpu(), res.stream()), items_back = items.to(Device::cpu(), res.stream());
    res.synchronize();
    return std::tuple{users_back, items_back, loss_sum};
  };
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const auto [cu, ci, cl] = run(cpu);
  const auto [gu, gi, gl] = run(gpu);
  RF_EXPECT_TENSOR_NEAR(gu, cu, 1e-3, 1e-2);
  RF_EXPECT_TENSOR_NEAR(gi, ci, 1e-3, 1e-2);
  EXPECT_NEAR(gl, cl, 1e-4 * cl);
}

}  // namespace
}  // namespace recforge::als
