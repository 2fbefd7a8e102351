// Ranking kernels: CUDA against the CPU reference (custom top-K and the CUB sort,
// masking, metric sums, coverage marks, sampled ranks).
#include <gtest/gtest.h>

#include "fixed_model.hpp"
#include "ranking/ranking_kernels.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/eval/evaluator.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/gpu.hpp"

namespace recforge::ranking {
namespace {

Tensor integer_scores(std::int64_t rows, std::int64_t items, std::uint32_t distinct, std::uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(rows * items));
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<float>(philox_below(seed, 1, i, distinct));
    if (i % 53 == 0) v[i] = -INFINITY;
  }
  return Tensor::from_vector(v, {rows, items});
}

class TopkParity : public ::testing::TestWithParam<std::tuple<std::int64_t, std::int64_t, std::int64_t>> {};

TEST_P(TopkParity, CustomKernelAndSortMatchTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const auto [rows, items, k] = GetParam();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const Tensor scores = integer_scores(rows, items, 40, 9);  // many ties
  Tensor ids = Tensor::empty({rows, k}, DType::kI32), values = Tensor::empty({rows, k}, DType::kF32);
  topk(cpu, scores, ids, values);
  const Tensor on_gpu = scores.to(gpu.device(), gpu.stream());
  for (bool sort : {false, true}) {
    if (!sort && !cuda_topk_supports(k)) continue;
    Tensor gids = Tensor::empty({rows, k}, DType::kI32, gpu.device(), gpu.stream());
    Tensor gvalues = Tensor::empty({rows, k}, DType::kF32, gpu.device(), gpu.stream());
    sort ? topk_by_sort(gpu, on_gpu, gids, gvalues) : topk(gpu, on_gpu, gids, gvalues);
    const Tensor back = gids.to(Device::cpu(), gpu.stream());
    gpu.synchronize();
    EXPECT_EQ(back.to_vector<std::int32_t>(), ids.to_vector<std::int32_t>()) << (sort ? "sort" : "custom");
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TopkParity,
                         ::testing::Values(std::make_tuple(1, 5, 10), std::make_tuple(7, 1000, 1), std::make_tuple(33, 4097, 20),
                                           std::make_tuple(5, 30000, 100), std::make_tuple(3, 500, 300),
                                           std::make_tuple(4, 0, 10), std::make_tuple(2, 0, 200)));

TEST(RankingGpu, MaskMetricsMarksAndSampledRanksMatchTheCpu) {
  RF_SKIP_WITHOUT_GPU();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const std::int64_t users = 200, items = 300, k = 20;
  const auto dev = [&](const Tensor& t) { return t.to(gpu.device(), gpu.stream()); };
  std::vector<std::int64_t> off = {0};
  std::vector<std::int32_t> cols, groups;
  std::vector<float> gains;
  for (std::int64_t u = 0; u < users; ++u) {
    for (std::int32_t i = 0; i < items; i += 7 + static_cast<std::int32_t>(u % 13)) {
      cols.push_back(i);
      gains.push_back(0.5f * static_cast<float>(1 + philox_below(1, 5, static_cast<std::uint64_t>(cols.size()), 10)));
    }
    off.push_back(static_cast<std::int64_t>(cols.size()));
    groups.push_back(static_cast<std::int32_t>(u % 3));
  }
  Tensor scores = integer_scores(users, items, 1000, 3);
  Tensor gscores = dev(scores);
  const Tensor off_t = Tensor::from_vector(off), cols_t = Tensor::from_vector(cols);
  mask(cpu, scores, off_t, cols_t);
  mask(gpu, gscores, dev(off_t), dev(cols_t));
  Tensor ids = Tensor::empty({users, k}, DType::kI32), vals = Tensor::empty({users, k}, DType::kF32);
  topk(cpu, scores, ids, vals);
  MetricSpec spec;
  spec.cutoffs = 2;
  spec.k[0] = 5;
  spec.k[1] = 20;
  spec.graded = true;
  std::vector<float> info(static_cast<std::size_t>(items));
  for (std::size_t i = 0; i < info.size(); ++i) info[i] = static_cast<float>(i % 9) * 0.5f;
  const auto run = [&](const Resources& res, bool on_gpu) {
    const auto place = [&](const Tensor& t) { return on_gpu ? dev(t) : t; };
    Tensor sums = Tensor::zeros({3, spec.cutoffs * kMetricsPerK}, DType::kI64, res.device(), res.stream());
    Tensor counts = Tensor::zeros({3}, DType::kI64, res.device(), res.stream());
    Tensor marks = Tensor::zeros({2, items}, DType::kI32, res.device(), res.stream());
    const Tensor topk_t = place(ids), gains_t = place(Tensor::from_vector(gains)), groups_t = place(Tensor::from_vector(groups));
    const Tensor off_p = place(off_t), cols_p = place(cols_t), info_p = place(Tensor::from_vector(info));
    metrics(res, MetricInputs{topk_t, off_p, cols_p, gains_t, groups_t, info_p, Tensor::empty({0, 1}, DType::kF32)}, spec,
            sums, counts);
    mark_items(res, topk_t, spec, marks);
    const Tensor sums_back = sums.to(Device::cpu(), res.stream()), counts_back = counts.to(Device::cpu(), res.stream()),
                 marks_back = marks.to(Device::cpu(), res.stream());
    res.synchronize();
    return std::make_tuple(sums_back.to_vector<std::int64_t>(), counts_back.to_vector<std::int64_t>(),
                           marks_back.to_vector<std::int32_t>());
  };
  const auto [cs, cc, cm] = run(cpu, false);
  const auto [gs, gc, gm] = run(gpu, true);
  EXPECT_EQ(gc, cc);
  EXPECT_EQ(gm, cm);
  for (std::size_t i = 0; i < cs.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(gs[i]), static_cast<double>(cs[i]), static_cast<double>(users)) << "sum " << i;  // <= 1 unit/user of libm rounding
  }
  const Tensor back = gscores.to(Device::cpu(), gpu.stream());
  gpu.synchronize();
  EXPECT_EQ(back.to_vector<float>(), scores.to_vector<float>());
  // Integer embeddings: exact dot products on both devices, so exact ranks.
  std::vector<float> ue(static_cast<std::size_t>(users * 8)), ie(static_cast<std::size_t>(items * 8));
  for (std::size_t i = 0; i < ue.size(); ++i) ue[i] = static_cast<float>(philox_below(4, 1, i, 7)) - 3.0f;
  for (std::size_t i = 0; i < ie.size(); ++i) ie[i] = static_cast<float>(philox_below(4, 2, i, 7)) - 3.0f;
  std::vector<std::int32_t> us(static_cast<std::size_t>(users)), cand(static_cast<std::size_t>(users * 51));
  for (std::size_t p = 0; p < us.size(); ++p) us[p] = static_cast<std::int32_t>(p);
  for (std::size_t i = 0; i < cand.size(); ++i) cand[i] = static_cast<std::int32_t>(philox_below(4, 3, i, items));
  const Tensor U = Tensor::from_vector(ue, {users, 8}), V = Tensor::from_vector(ie, {items, 8});
  const Tensor us_t = Tensor::from_vector(us), cand_t = Tensor::from_vector(cand, {users, 51});
  Tensor r_cpu = Tensor::empty({users}, DType::kI32), r_gpu = Tensor::empty({users}, DType::kI32, gpu.device(), gpu.stream());
  sampled_ranks(cpu, U, V, us_t, cand_t, r_cpu);
  sampled_ranks(gpu, dev(U), dev(V), dev(us_t), dev(cand_t), r_gpu);
  const Tensor r_back = r_gpu.to(Device::cpu(), gpu.stream());
  gpu.synchronize();
  EXPECT_EQ(r_back.to_vector<std::int32_t>(), r_cpu.to_vector<std::int32_t>());
}

// The fused full-ranking step: cuBLAS + mask + top-K on the GPU against the
// CPU's tiles. Integer embeddings make every score exact on both, ties included.
TEST(RankingGpu, ScoreTopkMatchesTheCpuTiles) {
  RF_SKIP_WITHOUT_GPU();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const std::int64_t users = 300, items = 2100, dim = 16;
  std::vector<float> ue(static_cast<std::size_t>(users * dim)), ie(static_cast<std::size_t>(items * dim));
  for (std::size_t i = 0; i < ue.size(); ++i) ue[i] = static_cast<float>(philox_below(6, 1, i, 5)) - 2.0f;
  for (std::size_t i = 0; i < ie.size(); ++i) ie[i] = static_cast<float>(philox_below(6, 2, i, 5)) - 2.0f;
  std::vector<std::int64_t> off = {0};
  std::vector<std::int32_t> cols;
  for (std::int64_t u = 0; u < users; ++u) {
    for (std::int32_t i = static_cast<std::int32_t>(u % 11); i < items; i += 17 + static_cast<std::int32_t>(u % 29)) cols.push_back(i);
    off.push_back(static_cast<std::int64_t>(cols.size()));
  }
  const Tensor U = Tensor::from_vector(ue, {users, dim}), V = Tensor::from_vector(ie, {items, dim});
  const Tensor off_t = Tensor::from_vector(off), cols_t = Tensor::from_vector(cols);
  const auto dev = [&](const Tensor& t) { return t.to(gpu.device(), gpu.stream()); };
  for (std::int64_t k : {10, 200}) {  // the custom kernel, and the sort beyond its K
    Tensor ids = Tensor::empty({users, k}, DType::kI32), values = Tensor::empty({users, k}, DType::kF32);
    score_topk(cpu, U, V, off_t, cols_t, ids, values);
    Tensor gids = Tensor::empty({users, k}, DType::kI32, gpu.device(), gpu.stream());
    Tensor gvalues = Tensor::empty({users, k}, DType::kF32, gpu.device(), gpu.stream());
    score_topk(gpu, dev(U), dev(V), dev(off_t), dev(cols_t), gids, gvalues);
    const Tensor back = gids.to(Device::cpu(), gpu.stream()), back_v = gvalues.to(Device::cpu(), gpu.stream());
    gpu.synchronize();
    EXPECT_EQ(back.to_vector<std::int32_t>(), ids.to_vector<std::int32_t>()) << "k " << k;
    EXPECT_EQ(back_v.to_vector<float>(), values.to_vector<float>()) << "k " << k;
  }
}

// The whole evaluator on CUDA: the CPU's metrics (integer embeddings, so the
// same rankings; sums within libm's rounding), then the same again from the
// block plan it kept, and with another block size (a new plan).
TEST(RankingGpu, EvaluatorMatchesTheCpuAndReusesItsBlocks) {
  RF_SKIP_WITHOUT_GPU();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  const data::Dataset d = small_dataset(300, 120);
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::empty({300, 8}, DType::kF32);
  model.items_ = Tensor::empty({120, 8}, DType::kF32);
  for (std::int64_t i = 0; i < model.users_.numel(); ++i) {
    model.users_.data_as<float>()[i] = static_cast<float>(philox_below(8, 1, static_cast<std::uint64_t>(i), 5)) - 2.0f;
  }
  for (std::int64_t i = 0; i < model.items_.numel(); ++i) {
    model.items_.data_as<float>()[i] = static_cast<float>(philox_below(8, 2, static_cast<std::uint64_t>(i), 5)) - 2.0f;
  }
  auto comm = make_single_communicator();
  const auto evaluator_with = [](int batch) {
    const auto& entry = EvaluatorRegistry::instance().get("ranking");
    return entry.create(entry.schema().resolve(
        load_config_string("k: [1, 5, 20]\nbatch_users: " + std::to_string(batch), "e.yaml")));
  };
  auto on_cpu = evaluator_with(64), on_gpu = evaluator_with(64), other_blocks = evaluator_with(7);
  const MetricValues expected = on_cpu->evaluate(model, d.test, EvalContext{&d, &cpu, comm.get(), 1});
  const EvalContext ctx{&d, &gpu, comm.get(), 1};
  const MetricValues first = on_gpu->evaluate(model, d.test, ctx);
  ASSERT_EQ(first.size(), expected.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].first, expected[i].first);
    EXPECT_NEAR(first[i].second, expected[i].second, 1e-6) << first[i].first;
  }
  EXPECT_EQ(on_gpu->evaluate(model, d.test, ctx), first);
  EXPECT_EQ(other_blocks->evaluate(model, d.test, ctx), first);
}

}  // namespace
}  // namespace recforge::ranking
