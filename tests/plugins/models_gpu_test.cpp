// Every mini-batch model trained through the Trainer on CUDA ends where the
// same job ends on the CPU: same seed, same batches, negatives and dropout
// masks (Philox on both devices), and plain SGD so that rounding differences
// between cuBLAS and OpenBLAS stay rounding-sized (Adam's m / sqrt(v) would
// turn a near-zero gradient's sign into a full step). This covers what the
// per-op parity tests cannot: each model's device placement, its own kernels
// in sequence and the trainer's GPU path (sparse rows, NaN tally, optimizer).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "recforge/comm/communicator.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "recforge/train/trainer.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"
#include "testing/training_job.hpp"

namespace recforge {
namespace {

struct Trained {
  std::vector<std::string> names;
  std::vector<Tensor> initial, final;  // on the host
  double last_epoch_loss = 0;
};

std::vector<Tensor> host_values(Model& model, const Resources& res) {
  std::vector<Tensor> out;
  for (Parameter* p : model.parameters()) out.push_back(p->value().to(Device::cpu(), res.stream()));
  res.synchronize();
  return out;
}

// A model and the SGD learning rate that moves its parameters by about 1e-2
// in 4 steps: 100 times the comparison's tolerance (LightGCN's gradients on
// normalised propagated rows are small).
struct Case {
  const char* model;
  double lr;
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.model << ", sgd lr " << c.lr; }

Trained train_on(const Resources& res, const Case& c) {
  const ConfigNode job = testing::tiny_job(fmt::format(
      "model: {}\ntrain: {{epochs: 1, max_steps: 4, batch_size: 64, optimizer: {{type: sgd, lr: {}}}}}\n", c.model, c.lr));
  static const data::Dataset dataset = testing::tiny_dataset(job);
  auto comm = make_single_communicator();
  if (res.device().is_cuda()) comm->set_stream(res.stream());
  auto model = ModelRegistry::instance().get(job.section("model").get_string("type")).create(job.section("model"));
  model->build(ModelContext{&dataset, &res, comm.get(), 42});
  Trained out;
  for (Parameter* p : model->parameters()) out.names.push_back(p->name());
  out.initial = host_values(*model, res);
  out.last_epoch_loss = Trainer(job.section("train"), *model, dataset, *comm, res, 42, nullptr).fit().last_epoch_loss;
  out.final = host_values(*model, res);
  return out;
}

// The largest change of any parameter value over the run: a comparison of
// two runs means nothing if neither moved.
double largest_move(const Trained& t) {
  double largest = 0;
  for (std::size_t i = 0; i < t.final.size(); ++i) {
    const float *a = t.initial[i].data_as<float>(), *b = t.final[i].data_as<float>();
    for (std::int64_t k = 0; k < t.final[i].numel(); ++k) largest = std::max(largest, std::fabs(double(b[k]) - a[k]));
  }
  return largest;
}

class ModelsTrainAlike : public ::testing::TestWithParam<Case> {};

// The harness on the CPU alone: two runs are bit-identical and training moves
// the parameters (so the GPU comparison below can fail).
TEST_P(ModelsTrainAlike, TwoCpuRunsAreBitIdentical) {
  const Trained a = train_on(Resources::cpu(), GetParam()), b = train_on(Resources::cpu(), GetParam());
  EXPECT_GT(largest_move(a), 1e-2) << GetParam().model << ": training hardly moved the parameters";
  ASSERT_EQ(a.final.size(), b.final.size());
  for (std::size_t i = 0; i < a.final.size(); ++i) RF_EXPECT_TENSOR_NEAR(b.final[i], a.final[i], 0.0) << a.names[i];
  EXPECT_EQ(a.last_epoch_loss, b.last_epoch_loss);
}

TEST_P(ModelsTrainAlike, CudaEndsWhereTheCpuEnds) {
  RF_SKIP_WITHOUT_GPU();
  const Trained cpu = train_on(Resources::cpu(), GetParam()), gpu = train_on(Resources::cuda(0), GetParam());
  ASSERT_EQ(cpu.names, gpu.names);
  for (std::size_t i = 0; i < cpu.final.size(); ++i) {
    RF_EXPECT_TENSOR_NEAR(gpu.initial[i], cpu.initial[i], 1e-6, 1e-6) << cpu.names[i] << " initialised differently";
    RF_EXPECT_TENSOR_NEAR(gpu.final[i], cpu.final[i], 1e-4, 1e-3) << cpu.names[i];
  }
  EXPECT_NEAR(gpu.last_epoch_loss, cpu.last_epoch_loss, 1e-4 * std::fabs(cpu.last_epoch_loss));
}

INSTANTIATE_TEST_SUITE_P(Models, ModelsTrainAlike,
                         ::testing::Values(Case{"{type: mf, factors: 8, loss: bpr}", 0.5},
                                           Case{"{type: ncf, factors: 8, layers: 2}", 0.05},
                                           Case{"{type: two_tower, dim: 16, temperature: 0.2}", 0.05},
                                           Case{"{type: sasrec, dim: 16, blocks: 1, max_len: 20, dropout: 0.1}", 0.5},
                                           Case{"{type: lightgcn, dim: 16, layers: 2}", 20.0}),
                         [](const auto& info) {
                           const std::string yaml = info.param.model;
                           const auto begin = yaml.find("type: ") + 6;
                           return yaml.substr(begin, yaml.find(',', begin) - begin);
                         });

}  // namespace
}  // namespace recforge
