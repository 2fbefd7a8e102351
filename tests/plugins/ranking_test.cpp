// Ranking evaluation: hand-computed metric values (ties, users without relevant
// items, K beyond the catalogue), top-K = sort, the evaluator's independence from
// the batch size, and the sampled protocol's ranks.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "fixed_model.hpp"
#include "ranking/block_plan.hpp"
#include "ranking/ranking_kernels.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/eval/evaluator.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"

namespace recforge::ranking {
namespace {

const Resources kCpu = Resources::cpu();

double fixed(std::int64_t v) { return static_cast<double>(v) / kFixedScale; }

// Metrics of one user from an explicit ranking.
std::vector<double> one_user(std::vector<std::int32_t> ranked, std::vector<std::int32_t> relevant, int k,
                             std::vector<float> gains = {}, bool recall_min_k = false) {
  MetricSpec spec;
  spec.cutoffs = 1;
  spec.k[0] = k;
  spec.recall_min_k = recall_min_k;
  spec.graded = !gains.empty();
  const auto kk = static_cast<std::int64_t>(ranked.size());
  Tensor topk = Tensor::from_vector(ranked, {1, kk});
  Tensor off = Tensor::from_vector(std::vector<std::int64_t>{0, static_cast<std::int64_t>(relevant.size())});
  Tensor cols = Tensor::from_vector(relevant);
  Tensor g = Tensor::from_vector(gains.empty() ? std::vector<float>{} : gains);
  Tensor groups = Tensor::from_vector(std::vector<std::int32_t>{0});
  Tensor info = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  Tensor sums = Tensor::zeros({1, kMetricsPerK}, DType::kI64), counts = Tensor::zeros({1}, DType::kI64);
  metrics(kCpu, MetricInputs{topk, off, cols, g, groups, info, Tensor::empty({0, 1}, DType::kF32)}, spec, sums, counts);
  std::vector<double> out;
  for (std::int64_t v : sums.to_vector<std::int64_t>()) {
    // The lists counts are plain integers, the rest fixed point.
    const bool count = out.size() == kNoveltyLists || out.size() == kDiversityLists;
    out.push_back(count ? static_cast<double>(v) : fixed(v));
  }
  EXPECT_EQ(counts.to_vector<std::int64_t>()[0], 1);
  return out;
}

TEST(RankingMetrics, HandComputedValues) {
  // Ranked 7, 3, 9, 1, 5; relevant {1, 3, 4}; K = 5. Hits at positions 2 and 4.
  const auto m = one_user({7, 3, 9, 1, 5}, {1, 3, 4}, 5);
  EXPECT_DOUBLE_EQ(m[kHit], 1.0);
  EXPECT_NEAR(m[kPrecision], 2.0 / 5, 1e-9);
  EXPECT_NEAR(m[kRecall], 2.0 / 3, 1e-9);
  const double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0);
  const double idcg = 1 + 1 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(m[kNdcg], dcg / idcg, 1e-9);
  EXPECT_NEAR(m[kMap], (1.0 / 2 + 2.0 / 4) / 3, 1e-9);  // precision at each hit / min(|R|, K)
  EXPECT_NEAR(m[kMrr], 0.5, 1e-9);
  EXPECT_NEAR(m[kNovelty], (8 + 4 + 10 + 2 + 6) / 5.0, 1e-9);  // self_info[i] = i + 1
}

TEST(RankingMetrics, RecallDenominatorOption) {
  // Four relevant items, K = 2, both top items relevant.
  EXPECT_NEAR(one_user({1, 2}, {1, 2, 3, 4}, 2)[kRecall], 0.5, 1e-9);
  EXPECT_NEAR(one_user({1, 2}, {1, 2, 3, 4}, 2, {}, /*recall_min_k=*/true)[kRecall], 1.0, 1e-9);
}

TEST(RankingMetrics, GradedNdcgUsesExponentialGains) {
  // Relevant 1 (rating 1) and 2 (rating 3); ranked 1 then 2: the worse order.
  const auto m = one_user({1, 2}, {1, 2}, 2, {1.0f, 3.0f});
  const double dcg = 1.0 + 7.0 / std::log2(3.0), idcg = 7.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(m[kNdcg], dcg / idcg, 1e-9);
}

TEST(RankingMetrics, ShortListsAndMisses) {
  // K = 5 but only 2 items could be ranked (catalogue smaller than K): -1 pads.
  const auto m = one_user({4, 2, -1, -1, -1}, {2}, 5);
  EXPECT_NEAR(m[kPrecision], 1.0 / 5, 1e-9);  // precision divides by K
  EXPECT_NEAR(m[kRecall], 1.0, 1e-9);
  EXPECT_NEAR(m[kNovelty], (5 + 3) / 2.0, 1e-9);  // over the items actually listed
  const auto miss = one_user({4, 5, 6}, {1}, 3);
  for (int i : {kHit, kPrecision, kRecall, kNdcg, kMap, kMrr}) EXPECT_EQ(miss[i], 0.0);
}

// Novelty needs a listed item and diversity two: the counts of users they
// average over.
TEST(RankingMetrics, ListsCountedForNoveltyAndDiversity) {
  const auto full = one_user({4, 2, 7}, {2}, 3);
  EXPECT_EQ(full[kNoveltyLists], 1.0);
  EXPECT_EQ(full[kDiversityLists], 1.0);
  const auto single = one_user({4, -1, -1}, {2}, 3);
  EXPECT_EQ(single[kNoveltyLists], 1.0);
  EXPECT_EQ(single[kDiversityLists], 0.0);
  const auto empty = one_user({-1, -1, -1}, {2}, 3);  // a user who has seen every item
  EXPECT_EQ(empty[kNoveltyLists], 0.0);
  EXPECT_EQ(empty[kDiversityLists], 0.0);
  EXPECT_EQ(empty[kNovelty], 0.0);
}

TEST(RankingTopk, TiesGoToTheSmallerIdAndMaskedItemsNeverShow) {
  Tensor scores = Tensor::from_vector(std::vector<float>{1, 5, 5, -INFINITY, 5, NAN, 2}, {1, 7});
  Tensor ids = Tensor::empty({1, 4}, DType::kI32), values = Tensor::empty({1, 4}, DType::kF32);
  topk(kCpu, scores, ids, values);
  EXPECT_EQ(ids.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 2, 4, 6}));
  Tensor few = Tensor::from_vector(std::vector<float>{-INFINITY, 3, -INFINITY}, {1, 3});
  topk(kCpu, few, ids, values);
  EXPECT_EQ(ids.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, -1, -1, -1}));
  // No items at all (an empty catalogue shard): every slot is padding, on both paths.
  const Tensor none = Tensor::empty({2, 0}, DType::kF32);
  Tensor two_ids = Tensor::empty({2, 3}, DType::kI32), two_values = Tensor::empty({2, 3}, DType::kF32);
  for (const bool sort : {false, true}) {
    sort ? topk_by_sort(kCpu, none, two_ids, two_values) : topk(kCpu, none, two_ids, two_values);
    EXPECT_EQ(two_ids.to_vector<std::int32_t>(), std::vector<std::int32_t>(6, -1)) << (sort ? "sort" : "select");
    EXPECT_EQ(two_values.to_vector<float>(), std::vector<float>(6, -INFINITY)) << (sort ? "sort" : "select");
  }
}

TEST(RankingTopk, SelectionEqualsFullSortOnRandomRowsWithTies) {
  const std::int64_t rows = 37, items = 501;
  std::vector<float> values(static_cast<std::size_t>(rows * items));
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(philox_below(3, 4, i, 50));  // many ties
    if (i % 97 == 0) values[i] = -INFINITY;
  }
  Tensor scores = Tensor::from_vector(values, {rows, items});
  for (std::int64_t k : {1, 10, 64, 600}) {
    Tensor a = Tensor::empty({rows, k}, DType::kI32), av = Tensor::empty({rows, k}, DType::kF32);
    Tensor b = Tensor::empty({rows, k}, DType::kI32), bv = Tensor::empty({rows, k}, DType::kF32);
    topk(kCpu, scores, a, av);
    topk_by_sort(kCpu, scores, b, bv);
    EXPECT_EQ(a.to_vector<std::int32_t>(), b.to_vector<std::int32_t>()) << "k " << k;
  }
}

TEST(RankingMask, SetsTrainingItemsToMinusInfinity) {
  Tensor scores = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  mask(kCpu, scores, Tensor::from_vector(std::vector<std::int64_t>{0, 1, 3}), Tensor::from_vector(std::vector<std::int32_t>{2, 0, 1}));
  EXPECT_EQ(scores.to_vector<float>(), (std::vector<float>{1, 2, -INFINITY, -INFINITY, -INFINITY, 6}));
  RF_EXPECT_ERROR(mask(kCpu, scores, Tensor::from_vector(std::vector<std::int64_t>{0, 1, 1}),
                       Tensor::from_vector(std::vector<std::int32_t>{3})),
                  ErrorKind::kInvalidArgument, "item 3 outside [0, 3)");
}

// Small integer embeddings: every score is exact whatever the order of the
// additions, so the fused kernel must equal gemm + mask + topk to the bit,
// ties included. Sizes cross the tile edges (3 item tiles, the last partial;
// several user ranges per thread); training items sit on the tile edges.
struct FusedCase {
  std::int64_t users, items, dim;
  Tensor u, v, off, cols;
};

FusedCase fused_case(std::int64_t users, std::int64_t items, std::int64_t dim) {
  FusedCase c{users, items, dim, Tensor::empty({users, dim}, DType::kF32), Tensor::empty({items, dim}, DType::kF32), {}, {}};
  for (std::int64_t i = 0; i < users * dim; ++i) c.u.data_as<float>()[i] = static_cast<float>(philox_below(5, 1, i, 5)) - 2;
  for (std::int64_t i = 0; i < items * dim; ++i) c.v.data_as<float>()[i] = static_cast<float>(philox_below(5, 2, i, 5)) - 2;
  std::vector<std::int64_t> off = {0};
  std::vector<std::int32_t> cols;
  for (std::int64_t b = 0; b < users; ++b) {
    std::vector<std::int32_t> mine = {0, 1023, 1024, 2047, 2048, static_cast<std::int32_t>(items - 1)};
    for (int j = 0; j < static_cast<int>(b % 40); ++j) mine.push_back(static_cast<std::int32_t>(philox_below(5, 3 + b, j, items)));
    std::erase_if(mine, [&](std::int32_t i) { return i >= items; });
    std::sort(mine.begin(), mine.end());  // repeats stay: masking twice is harmless
    cols.insert(cols.end(), mine.begin(), mine.end());
    off.push_back(static_cast<std::int64_t>(cols.size()));
  }
  c.off = Tensor::from_vector(off);
  c.cols = Tensor::from_vector(cols);
  return c;
}

void expect_fused_equals_unfused(const FusedCase& c, std::int64_t k) {
  Tensor scores = Tensor::empty({c.users, c.items}, DType::kF32);
  kernels::gemm(kCpu, c.u, c.v, scores, {.trans_b = true});
  mask(kCpu, scores, c.off, c.cols);
  Tensor want = Tensor::empty({c.users, k}, DType::kI32), want_v = Tensor::empty({c.users, k}, DType::kF32);
  topk(kCpu, scores, want, want_v);
  Tensor got = Tensor::empty({c.users, k}, DType::kI32), got_v = Tensor::empty({c.users, k}, DType::kF32);
  score_topk(kCpu, c.u, c.v, c.off, c.cols, got, got_v);
  EXPECT_EQ(got.to_vector<std::int32_t>(), want.to_vector<std::int32_t>()) << c.users << "x" << c.items << " k " << k;
  EXPECT_EQ(got_v.to_vector<float>(), want_v.to_vector<float>()) << c.users << "x" << c.items << " k " << k;
}

TEST(RankingScoreTopk, EqualsGemmMaskAndTopkAcrossTiles) {
  const FusedCase c = fused_case(600, 2500, 8);
  for (std::int64_t k : {1, 10, 100}) expect_fused_equals_unfused(c, k);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);  // one thread takes every user range in turn
  expect_fused_equals_unfused(c, 10);
  omp_set_num_threads(threads);
  expect_fused_equals_unfused(fused_case(5, 40, 3), 10);  // a block smaller than a SIMD group
}

TEST(RankingScoreTopk, PadsShortListsAndNeverSelectsNan) {
  // 2 users, 4 items, d = 1. User 0 scores 3, 1, 2, 0 with items 0 and 2 masked;
  // user 1 has a NaN embedding: nothing is selectable.
  Tensor u = Tensor::from_vector(std::vector<float>{1, NAN}, {2, 1});
  Tensor v = Tensor::from_vector(std::vector<float>{3, 1, 2, 0}, {4, 1});
  Tensor ids = Tensor::empty({2, 3}, DType::kI32), values = Tensor::empty({2, 3}, DType::kF32);
  score_topk(kCpu, u, v, Tensor::from_vector(std::vector<std::int64_t>{0, 2, 2}), Tensor::from_vector(std::vector<std::int32_t>{0, 2}),
             ids, values);
  EXPECT_EQ(ids.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 3, -1, -1, -1, -1}));
  EXPECT_EQ(values.to_vector<float>(), (std::vector<float>{1, 0, -INFINITY, -INFINITY, -INFINITY, -INFINITY}));
}

TEST(RankingScoreTopk, NamesBadInput) {
  Tensor u = Tensor::zeros({2, 3}, DType::kF32), v = Tensor::zeros({5, 3}, DType::kF32);
  Tensor ids = Tensor::empty({2, 2}, DType::kI32), values = Tensor::empty({2, 2}, DType::kF32);
  const auto offsets = [](std::vector<std::int64_t> o) { return Tensor::from_vector(o); };
  const auto cols = [](std::vector<std::int32_t> c) { return Tensor::from_vector(c); };
  RF_EXPECT_ERROR(score_topk(kCpu, u, v, offsets({0, 1, 3}), cols({4, 3, 1}), ids, values), ErrorKind::kInvalidArgument,
                  "ranking_score_topk: the items of row 1 are not sorted");
  RF_EXPECT_ERROR(score_topk(kCpu, u, v, offsets({0, 1, 1}), cols({5}), ids, values), ErrorKind::kInvalidArgument,
                  "ranking_score_topk: item 5 outside [0, 5)");
  RF_EXPECT_ERROR(score_topk(kCpu, u, Tensor::zeros({5, 4}, DType::kF32), offsets({0, 0, 0}), cols({}), ids, values),
                  ErrorKind::kInvalidArgument, "ranking_score_topk: users [2, 3] and items [5, 4]");
  RF_EXPECT_ERROR(score_topk(kCpu, u, v, offsets({0, 0}), cols({}), ids, values), ErrorKind::kInvalidArgument,
                  "ranking_score_topk: 2 offsets for 2 users");
}

TEST(RankingSampled, RankCountsBetterCandidatesAndBreaksTiesById) {
  // One user with embedding (1); items with embeddings 0..4; positive item 2.
  Tensor users_emb = Tensor::from_vector(std::vector<float>{1}, {1, 1});
  Tensor items_emb = Tensor::from_vector(std::vector<float>{0, 3, 2, 2, 5}, {5, 1});
  Tensor cand = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 1, 3, 4}, {1, 5});
  Tensor ranks = Tensor::empty({1}, DType::kI32);
  sampled_ranks(kCpu, users_emb, items_emb, Tensor::from_vector(std::vector<std::int32_t>{0}), cand, ranks);
  EXPECT_EQ(ranks.data_as<std::int32_t>()[0], 3);  // items 1 and 4 score higher; 3 ties but has a larger id
}

// Users 4, 1, 3, 0, 2 in blocks of two: each block's training and held-out
// items, offsets from 0, a repeated held-out item once (with its first gain),
// a repeated training item kept (the mask does not mind).
TEST(RankingBlockPlan, BlocksAreViewsOfTheUsersRowsInOrder) {
  data::Csr train{{0, 2, 2, 5, 6, 8}, {1, 4, 0, 0, 7, 3, 2, 5}, {}};      // user 1 has none, user 2 a duplicate
  data::Csr relevant{{0, 1, 3, 4, 4, 6}, {9, 6, 6, 8, 2, 2}, {5, 4, 3, 2, 1, 0.5f}};  // user 3 has none
  const std::vector<std::int32_t> group = {10, 11, 12, 13, 14};
  const BlockPlan plan(train, relevant, group, {4, 1, 3, 0, 2}, 2, /*graded=*/true, kCpu);
  ASSERT_EQ(plan.blocks(), 3);
  const auto ints = [](const Tensor& t) {
    std::vector<std::int64_t> out;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      out.push_back(t.dtype() == DType::kI64 ? t.data_as<std::int64_t>()[i] : t.data_as<std::int32_t>()[i]);
    }
    return out;
  };
  using V = std::vector<std::int64_t>;
  const BlockViews b0 = plan.block(0), b1 = plan.block(1), b2 = plan.block(2);
  EXPECT_EQ(ints(b0.users), (V{4, 1}));
  EXPECT_EQ(ints(b0.train_offsets), (V{0, 2, 2}));
  EXPECT_EQ(ints(b0.train_items), (V{2, 5}));
  EXPECT_EQ(ints(b0.relevant_offsets), (V{0, 1, 2}));
  EXPECT_EQ(ints(b0.relevant_items), (V{2, 6}));
  EXPECT_EQ(b0.relevant_gains.to_vector<float>(), (std::vector<float>{1, 4}));
  EXPECT_EQ(ints(b0.groups), (V{14, 11}));
  EXPECT_EQ(ints(b1.users), (V{3, 0}));
  EXPECT_EQ(ints(b1.train_offsets), (V{0, 1, 3}));
  EXPECT_EQ(ints(b1.train_items), (V{3, 1, 4}));
  EXPECT_EQ(ints(b1.relevant_offsets), (V{0, 0, 1}));
  EXPECT_EQ(ints(b1.relevant_items), (V{9}));
  EXPECT_EQ(b1.relevant_gains.to_vector<float>(), (std::vector<float>{5}));
  EXPECT_EQ(b2.begin, 4);
  EXPECT_EQ(ints(b2.users), (V{2}));
  EXPECT_EQ(ints(b2.train_offsets), (V{0, 3}));
  EXPECT_EQ(ints(b2.train_items), (V{0, 0, 7}));
  EXPECT_EQ(ints(b2.relevant_items), (V{8}));
  EXPECT_EQ(b2.relevant_gains.to_vector<float>(), (std::vector<float>{2}));
  EXPECT_EQ(BlockPlan(train, relevant, group, {}, 4, false, kCpu).blocks(), 0);
  RF_EXPECT_ERROR(plan.block(3), ErrorKind::kInvalidArgument, "block 3 of 3");
}

TEST(RankingEvaluator, ResultDoesNotDependOnTheBatchSize) {
  const std::int32_t num_users = 60, num_items = 45;
  const data::Dataset d = small_dataset(num_users, num_items);
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::empty({num_users, 4}, DType::kF32);
  model.items_ = Tensor::empty({num_items, 4}, DType::kF32);
  for (std::size_t i = 0; i < static_cast<std::size_t>(model.users_.numel()); ++i) model.users_.data_as<float>()[i] = philox_uniform(2, 1, i);
  for (std::size_t i = 0; i < static_cast<std::size_t>(model.items_.numel()); ++i) model.items_.data_as<float>()[i] = philox_uniform(2, 2, i);
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  MetricValues reference;
  for (int batch : {1, 7, 64, 1000}) {
    const ConfigNode config = EvaluatorRegistry::instance().get("ranking").schema().resolve(
        load_config_string("k: [1, 5, 20]\nbatch_users: " + std::to_string(batch) + "\ndiversity: true", "e.yaml"));
    auto evaluator = EvaluatorRegistry::instance().get("ranking").create(config);
    const MetricValues values = evaluator->evaluate(model, d.test, ctx);
    if (reference.empty()) {
      reference = values;
      continue;
    }
    ASSERT_EQ(values.size(), reference.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(values[i].first, reference[i].first);
      EXPECT_EQ(values[i].second, reference[i].second) << values[i].first << " with batch " << batch;
    }
  }
  EXPECT_GT(reference[0].second, 0.0);

  // Group boundaries are sorted and a repeat is ignored: [5, 5, 3] is [3, 5].
  const auto with_groups = [&](const std::string& groups) {
    const ConfigNode config = EvaluatorRegistry::instance().get("ranking").schema().resolve(
        load_config_string("k: [5]\nuser_groups: " + groups, "e.yaml"));
    return EvaluatorRegistry::instance().get("ranking").create(config)->evaluate(model, d.test, ctx);
  };
  const MetricValues sorted = with_groups("[3, 5]");
  EXPECT_EQ(with_groups("[5, 5, 3]"), sorted);
  std::vector<std::string> groups;
  for (const auto& [name, value] : sorted)
    if (name.starts_with("users[")) groups.push_back(name);
  EXPECT_EQ(groups, (std::vector<std::string>{"users[train<3]", "users[train3-4]", "users[train>=5]"}));
}

// possible_metrics() (what a config's metric-watching keys are checked
// against before training) lists exactly the names evaluate() reports, in its
// order, for every option that adds or removes some.
TEST(RankingEvaluator, PossibleMetricsAreTheReportedNames) {
  const std::int32_t num_users = 30, num_items = 25;
  data::Dataset d = small_dataset(num_users, num_items);
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::zeros({num_users, 2}, DType::kF32);
  model.items_ = Tensor::zeros({num_items, 2}, DType::kF32);
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto names_of = [](const MetricValues& values) {
    std::vector<std::string> names;
    for (const auto& [name, value] : values) names.push_back(name);
    return names;
  };
  for (const std::string options :
       {"k: [5, 10]", "k: [3]\nprotocol: sampled\nsampled_negatives: 5", "k: [2]\nnovelty: false\ndiversity: true",
        "k: [4, 1]\nuser_groups: [2, 6, 9]"}) {
    const auto evaluator = entry.create(entry.schema().resolve(load_config_string(options, "e.yaml")));
    const std::vector<std::string> possible = evaluator->possible_metrics(d);
    EXPECT_EQ(names_of(evaluator->evaluate(model, d.test, ctx)), possible) << options;
  }
  // Ratings add rmse and mae as possible; a model that cannot predict them
  // (this one) reports the rest.
  d.test.rating.assign(d.test.user.size(), 4.0f);
  const auto evaluator = entry.create(entry.schema().resolve(load_config_string("k: [5]", "e.yaml")));
  std::vector<std::string> possible = evaluator->possible_metrics(d);
  const std::vector<std::string> reported = names_of(evaluator->evaluate(model, d.test, ctx));
  ASSERT_EQ(std::count(possible.begin(), possible.end(), "rmse"), 1);
  ASSERT_EQ(std::count(possible.begin(), possible.end(), "mae"), 1);
  std::erase(possible, "rmse");
  std::erase(possible, "mae");
  EXPECT_EQ(reported, possible);
}

// RMSE and MAE: exact for small errors, and right for errors whose squares
// summed at the ranking metrics' 2^32 scale overflowed an int64 (ratings that
// are counts): 1e5 squared is 1e10, times 2^32 is past 2^63 on one row.
TEST(RankingEvaluator, RatingErrorsOfAnySizeAreSummedExactly) {
  data::Dataset d = small_dataset(60, 45);
  d.test.rating.assign(d.test.user.size(), 4.0f);
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::zeros({60, 2}, DType::kF32);
  model.items_ = Tensor::zeros({45, 2}, DType::kF32);
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto rating_metrics = [&](float prediction) {
    model.prediction_ = prediction;
    std::map<std::string, double> out;
    for (const auto& [name, value] : entry.create(entry.schema().resolve(load_config_string("k: [5]", "e.yaml")))
                                         ->evaluate(model, d.test, ctx)) {
      if (name == "rmse" || name == "mae") out[name] = value;
    }
    return out;
  };
  EXPECT_EQ(rating_metrics(4.5f), (std::map<std::string, double>{{"mae", 0.5}, {"rmse", 0.5}}));
  const auto large = rating_metrics(100004.0f);
  EXPECT_NEAR(large.at("rmse"), 1e5, 1e-6);
  EXPECT_NEAR(large.at("mae"), 1e5, 1e-6);
  // A non-finite prediction makes them undefined (a NaN error was cast to an integer).
  const auto undefined = rating_metrics(std::nanf(""));
  EXPECT_TRUE(std::isnan(undefined.at("rmse")));
  EXPECT_TRUE(std::isnan(undefined.at("mae")));
}

// diversity@K needs item embeddings: a model that scores pairs only is told
// so (it reported 0 for every user, a metric early stopping could watch).
TEST(RankingEvaluator, DiversityNeedsEmbeddings) {
  const data::Dataset d = small_dataset(30, 25);
  FixedModel model{ConfigNode()};
  model.exports_embeddings_ = false;
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto evaluator = entry.create(entry.schema().resolve(load_config_string("k: [5]\ndiversity: true", "e.yaml")));
  // Before training (train calls check_model once the model is built), and at an evaluation.
  RF_EXPECT_ERROR(evaluator->check_model(model), ErrorKind::kConfig,
                  "eval.diversity needs the model's item embeddings, and model 'fixed' scores");
  RF_EXPECT_ERROR(evaluator->evaluate(model, d.test, ctx), ErrorKind::kConfig,
                  "eval.diversity needs the model's item embeddings, and model 'fixed' scores");
  model.exports_embeddings_ = true;
  evaluator->check_model(model);
}

// A user who has seen every item gets an empty list: it counts in the
// accuracy metrics (as a miss) but not in novelty and diversity, which
// describe the lists there are (it pulled both towards 0).
TEST(RankingEvaluator, NoveltyAndDiversityAverageOverTheListsThereAre) {
  const std::int32_t num_users = 40, num_items = 30;
  data::Dataset with_all = small_dataset(num_users, num_items);
  for (std::int32_t i = 0; i < num_items; ++i) {
    with_all.train.user.push_back(0);
    with_all.train.item.push_back(i);
  }
  data::Dataset without = with_all;
  without.test = {};
  for (std::size_t r = 0; r < with_all.test.user.size(); ++r) {
    if (with_all.test.user[r] == 0) continue;
    without.test.user.push_back(with_all.test.user[r]);
    without.test.item.push_back(with_all.test.item[r]);
  }
  ASSERT_LT(without.test.user.size(), with_all.test.user.size());
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::empty({num_users, 3}, DType::kF32);
  model.items_ = Tensor::empty({num_items, 3}, DType::kF32);
  for (std::size_t i = 0; i < static_cast<std::size_t>(model.users_.numel()); ++i) model.users_.data_as<float>()[i] = philox_uniform(4, 1, i);
  for (std::size_t i = 0; i < static_cast<std::size_t>(model.items_.numel()); ++i) model.items_.data_as<float>()[i] = philox_uniform(4, 2, i) - 0.5f;
  auto comm = make_single_communicator();
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto metrics_of = [&](const data::Dataset& d) {
    const EvalContext ctx{&d, &kCpu, comm.get(), 1};
    std::map<std::string, double> out;
    for (const auto& [name, value] : entry.create(entry.schema().resolve(load_config_string("k: [5]\ndiversity: true", "e.yaml")))
                                         ->evaluate(model, d.test, ctx)) {
      out[name] = value;
    }
    return out;
  };
  const auto a = metrics_of(with_all), b = metrics_of(without);
  EXPECT_EQ(a.at("users"), b.at("users") + 1);
  EXPECT_GT(b.at("novelty@5"), 0.0);
  EXPECT_GT(b.at("diversity@5"), 0.0);
  EXPECT_DOUBLE_EQ(a.at("novelty@5"), b.at("novelty@5"));
  EXPECT_DOUBLE_EQ(a.at("diversity@5"), b.at("diversity@5"));
  EXPECT_LT(a.at("hit_rate@5"), b.at("hit_rate@5"));  // the empty list is a miss
}

// Diversity compares items by their features: a bias column folded into the
// item embeddings (MF's b_i, ALS's biases) is left out of the cosine.
TEST(RankingEvaluator, DiversityLeavesOutBiasColumns) {
  const std::int32_t num_users = 40, num_items = 30;
  const data::Dataset d = small_dataset(num_users, num_items);
  // Features p_u, q_i; the biased model adds a zero user column and a large b_i
  // column, so that both rank alike.
  FixedModel plain{ConfigNode()}, biased{ConfigNode()};
  plain.users_ = Tensor::empty({num_users, 2}, DType::kF32);
  plain.items_ = Tensor::empty({num_items, 2}, DType::kF32);
  biased.users_ = Tensor::zeros({num_users, 3}, DType::kF32);
  biased.items_ = Tensor::zeros({num_items, 3}, DType::kF32);
  for (std::int64_t u = 0; u < num_users; ++u) {
    for (std::int64_t c = 0; c < 2; ++c) {
      const float v = philox_uniform(5, 1, static_cast<std::uint64_t>(u * 2 + c));
      plain.users_.data_as<float>()[u * 2 + c] = v;
      biased.users_.data_as<float>()[u * 3 + c] = v;
    }
  }
  for (std::int64_t i = 0; i < num_items; ++i) {
    for (std::int64_t c = 0; c < 2; ++c) {
      const float v = philox_uniform(5, 2, static_cast<std::uint64_t>(i * 2 + c)) - 0.5f;
      plain.items_.data_as<float>()[i * 2 + c] = v;
      biased.items_.data_as<float>()[i * 3 + c] = v;
    }
    biased.items_.data_as<float>()[i * 3 + 2] = 10.0f + static_cast<float>(i);
  }
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto diversity = [&](FixedModel& model) {
    for (const auto& [name, value] : entry.create(entry.schema().resolve(load_config_string("k: [5]\ndiversity: true", "e.yaml")))
                                         ->evaluate(model, d.test, ctx)) {
      if (name == "diversity@5") return value;
    }
    return -1.0;
  };
  const double expected = diversity(plain);
  EXPECT_GT(expected, 0.1);
  const double counted = diversity(biased);  // the bias dominates the cosine
  EXPECT_LT(counted, expected / 2);
  biased.item_bias_columns_ = 1;
  EXPECT_NEAR(diversity(biased), expected, 1e-6);
  biased.item_bias_columns_ = 3;
  RF_EXPECT_ERROR(diversity(biased), ErrorKind::kInvalidArgument, "model 'fixed' says 3 of its 3 item embedding columns are biases");
}

// The sampled protocol draws negatives among the items a user has in neither
// training nor held-out data; a user who has them all is an error naming the
// user (the draw kept a positive as a "negative" after 1000 tries).
TEST(RankingEvaluator, SampledNegativesAreNeverTheUsersItems) {
  data::Dataset d;
  d.users = data::IdMap::integers({70, 71});
  d.items = data::IdMap::integers({0, 1, 2});
  d.train = data::InteractionTable{{0, 0, 1}, {0, 1, 0}, {}, {}};
  d.test = data::InteractionTable{{0, 1}, {2, 1}, {}, {}};
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::from_vector(std::vector<float>{1, 1}, {2, 1});
  model.items_ = Tensor::from_vector(std::vector<float>{3, 2, 1}, {3, 1});
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto sampled = entry.schema().resolve(load_config_string("k: [1]\nprotocol: sampled\nsampled_negatives: 2", "e.yaml"));
  RF_EXPECT_ERROR(entry.create(sampled)->evaluate(model, d.test, ctx), ErrorKind::kData,
                  "eval.protocol sampled: user 70 has every item of the catalogue in training or held out");
  // User 71 alone: its only unknown item (2) scores below its held-out one, a hit at 1.
  d.test = data::InteractionTable{{1}, {1}, {}, {}};
  const MetricValues values = entry.create(sampled)->evaluate(model, d.test, ctx);
  const auto hit = std::find_if(values.begin(), values.end(), [](const auto& m) { return m.first == "hit_rate@1"; });
  ASSERT_NE(hit, values.end());
  EXPECT_EQ(hit->second, 1.0);
}

// The test split after a validation split: the validation items are the
// user's history, so never candidates (they were counted as misses), and the
// model is given them as extra history while it exports its vectors.
TEST(RankingEvaluator, TheTestSplitAfterAValidationSplitMasksItsItems) {
  data::Dataset d;
  d.users = data::IdMap::integers({70});
  d.items = data::IdMap::integers({0, 1, 2, 3, 4});
  d.train = data::InteractionTable{{0}, {0}, {}, {}};
  d.valid = data::InteractionTable{{0}, {1}, {}, {}};
  d.test = data::InteractionTable{{0}, {2}, {}, {}};
  FixedModel model{ConfigNode()};
  model.users_ = Tensor::from_vector(std::vector<float>{1}, {1, 1});
  model.items_ = Tensor::from_vector(std::vector<float>{9, 8, 7, 6, 5}, {5, 1});  // item 1 above item 2
  auto comm = make_single_communicator();
  const EvalContext ctx{&d, &kCpu, comm.get(), 1};
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  const auto hit_at_1 = [&](const std::string& protocol, const data::InteractionTable& heldout) {
    const auto config = entry.schema().resolve(load_config_string("k: [1]\nprotocol: " + protocol +
                                                                      "\nsampled_negatives: 2", "e.yaml"));
    const MetricValues values = entry.create(config)->evaluate(model, heldout, ctx);
    return std::find_if(values.begin(), values.end(), [](const auto& m) { return m.first == "hit_rate@1"; })->second;
  };
  EXPECT_EQ(hit_at_1("full", d.test), 1.0);  // item 1 (validation) is not a candidate
  EXPECT_EQ(model.history_at_embeddings_, &d.valid);
  EXPECT_EQ(model.history_, nullptr);  // cleared after the evaluation
  EXPECT_EQ(hit_at_1("sampled", d.test), 1.0);  // negatives among items 3 and 4 only
  EXPECT_EQ(hit_at_1("full", d.valid), 1.0);  // scoring the validation split: only training items are history
  EXPECT_EQ(model.history_at_embeddings_, nullptr);
  d.test = data::InteractionTable{{0}, {3}, {}, {}};
  EXPECT_EQ(hit_at_1("full", d.test), 0.0);  // item 2 ranks above the held-out item 3
}

TEST(RankingEvaluator, ConfigErrors) {
  const auto& entry = EvaluatorRegistry::instance().get("ranking");
  RF_EXPECT_ERROR(entry.schema().resolve(load_config_string("k: [0]", "e.yaml"), "eval"), ErrorKind::kConfig,
                  "eval.k[0]: expected an integer in [1, 10000], got 0");
  RF_EXPECT_ERROR(entry.schema().resolve(load_config_string("k: [1,2,3,4,5,6,7,8,9]", "e.yaml"), "eval"),
                  ErrorKind::kConfig, "e.yaml:1:4: eval.k: expected 1 to 8 items, got 9");
  RF_EXPECT_ERROR(entry.schema().resolve(load_config_string("k: []", "e.yaml"), "eval"), ErrorKind::kConfig,
                  "e.yaml:1:4: eval.k: expected 1 to 8 items, got 0");
}

}  // namespace
}  // namespace recforge::ranking
