// The ranking evaluator: Recall, Precision, NDCG, HitRate, MAP, MRR at several
// cut-offs, catalogue coverage, novelty and intra-list diversity, per user group,
// under the full-ranking or the sampled protocol; RMSE/MAE for rating models.
//
// Full ranking, per block of `batch_users` evaluation users on this rank's shard
// (laid out on the device once per evaluation: block_plan.hpp):
//   scores = U_block V^T (gemm)  ->  mask the users' training items (-inf)
//   ->  top-K per row (factor models: the three in one score_topk, which on the
//   CPU never holds the block's scores)  ->  per-user metrics in fixed point per group
//   ->  items recommended marked for coverage
// then one all-reduce of the integer sums and the marks. The result depends on
// neither the number of ranks nor the block size (metric_math.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <span>

#include "block_plan.hpp"
#include "ranking_kernels.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/shard.hpp"
#include "recforge/eval/evaluator.hpp"
#include "recforge/kernels/rows.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::ranking {
namespace {

void require_embeddings_for_diversity(const Model& model, bool exported) {
  RF_CHECK_KIND(ErrorKind::kConfig, exported, "eval.diversity needs the model's item embeddings, and model '",
                model.type(), "' scores without exporting them; set eval.diversity: false");
}

const char* const kMetricNames[kDiversity + 1] = {"hit_rate", "precision", "recall", "ndcg", "map", "mrr", "novelty", "diversity"};
// What finish() reports per cut-off, in order, and per user group; possible_metrics() lists the same.
constexpr int kReportedPerK[] = {kRecall, kNdcg, kPrecision, kHit, kMap, kMrr};
constexpr int kReportedPerGroup[] = {kRecall, kNdcg, kHit};

// Sampled ranks from a model's pair scores (models without embeddings), with
// the tie rule of ranking_sampled_ranks: a candidate beats the positive (column
// 0) with a higher score, or an equal score and a smaller item id.
std::vector<std::int32_t> pair_ranks(Model& model, const std::vector<std::int32_t>& users,
                                     const std::vector<std::int32_t>& candidates, std::int64_t columns) {
  const auto n = static_cast<std::int64_t>(users.size());
  std::vector<std::int32_t> pair_users(static_cast<std::size_t>(n * columns));
  for (std::int64_t p = 0; p < n; ++p) {
    std::fill_n(pair_users.begin() + p * columns, columns, users[static_cast<std::size_t>(p)]);
  }
  std::vector<float> scores(pair_users.size());
  RF_CHECK_KIND(ErrorKind::kConfig, model.score_pairs(pair_users, candidates, scores), "eval.protocol sampled needs ",
                "a model with embeddings or pair scores; model '", model.type(), "' has neither (use protocol: full)");
  std::vector<std::int32_t> ranks(static_cast<std::size_t>(n));
  for (std::int64_t p = 0; p < n; ++p) {
    const float* s = scores.data() + p * columns;
    const std::int32_t* c = candidates.data() + p * columns;
    std::int32_t rank = 1;
    for (std::int64_t j = 1; j < columns; ++j) rank += s[j] > s[0] || (s[j] == s[0] && c[j] < c[0]);
    ranks[static_cast<std::size_t>(p)] = rank;
  }
  return ranks;
}

template <class T>
Tensor device_vector(const std::vector<T>& values, const Resources& res) {
  return to_device(Tensor::from_vector(values), res);
}

class RankingEvaluator final : public Evaluator {
 public:
  static Schema config_schema() {
    Schema s("Ranking metrics under the full or the sampled protocol (see plugins/ranking/README.md)");
    s.add_string("protocol", "full", "full: rank every item; sampled: rank the held-out item among sampled negatives",
                 {"full", "sampled"})
        .add_int_list("k", {10, 20}, "cut-offs", 1, 10000, 1, kMaxCutoffs)
        .add_string("recall_denominator", "relevant",
                    "Recall@K = hits / |relevant| (relevant, as in the NGCF/LightGCN code) or hits / min(|relevant|, K)",
                    {"relevant", "min_relevant_k"})
        .add_bool("graded", false, "NDCG with gains 2^rating - 1 (needs ratings) instead of binary relevance")
        .add_int("sampled_negatives", 99, "negatives per held-out item for protocol sampled", 1, 100000)
        .add_int_list("user_groups", {10, 50}, "boundaries on users' training-interaction counts for the breakdown (sorted; a repeat is ignored)", 1)
        .add_int("batch_users", 1024, "users scored per block (does not change results)", 1, 1 << 20)
        .add_bool("novelty", true, "mean self-information -log2 popularity of recommended items")
        .add_bool("diversity", false, "intra-list diversity: mean pairwise 1 - cosine of recommended items' embeddings");
    return s;
  }

  explicit RankingEvaluator(const ConfigNode& c)
      : sampled_(c.get_string("protocol") == "sampled"),
        cutoffs_(c["k"].as_int_list()),
        negatives_(c.get_int("sampled_negatives")),
        boundaries_(c["user_groups"].as_int_list()),
        batch_users_(c.get_int("batch_users")),
        novelty_(c.get_bool("novelty")),
        diversity_(c.get_bool("diversity")) {
    RF_CHECK_KIND(ErrorKind::kConfig, !cutoffs_.empty() && cutoffs_.size() <= static_cast<std::size_t>(kMaxCutoffs),
                  c["k"].where(), ": between 1 and ", kMaxCutoffs, " cut-offs");
    std::sort(cutoffs_.begin(), cutoffs_.end());
    cutoffs_.erase(std::unique(cutoffs_.begin(), cutoffs_.end()), cutoffs_.end());
    std::sort(boundaries_.begin(), boundaries_.end());
    boundaries_.erase(std::unique(boundaries_.begin(), boundaries_.end()), boundaries_.end());  // no empty groups
    spec_.cutoffs = static_cast<int>(cutoffs_.size());
    for (std::size_t t = 0; t < cutoffs_.size(); ++t) spec_.k[t] = static_cast<int>(cutoffs_[t]);
    spec_.recall_min_k = c.get_string("recall_denominator") == "min_relevant_k";
    spec_.graded = c.get_bool("graded");
  }

  std::string_view type() const override { return "ranking"; }

  MetricValues evaluate(Model& model, const data::InteractionTable& heldout, const EvalContext& ctx) override;

  // Negatives are drawn with replacement among a user's unseen items: with as
  // many as the catalog holds, most would repeat and the metric would change
  // meaning (a full ranking is what such a setting asks for).
  void check_data(const data::Dataset& d) const override {
    RF_CHECK_KIND(ErrorKind::kConfig, !sampled_ || negatives_ < d.num_items(), "eval.sampled_negatives ", negatives_,
                  " is not below the number of items (", d.num_items(), "); use eval.protocol: full to rank them all");
  }
  // diversity@K is computed on the model's item embeddings (full protocol).
  void check_model(Model& model) const override {
    if (!diversity_ || sampled_) return;
    Tensor users, items;
    require_embeddings_for_diversity(model, model.embeddings(users, items));
  }
  std::vector<std::string> possible_metrics(const data::Dataset& d) const override;
  std::string format(const MetricValues& values) const override;

 private:
  struct Prepared {
    const data::Dataset* dataset = nullptr;
    data::Csr train;                    // users x items, for masking
    data::Csr train_and_valid;          // the same with the validation rows (empty without them)
    std::vector<std::int32_t> group;    // user -> group
    std::vector<float> self_info;       // item -> -log2 popularity
  };
  void prepare(const data::Dataset& d);
  // The rows between training and `heldout` that are history too: the
  // validation rows when the test split (which comes after them) is scored.
  static const data::InteractionTable* history_before(const data::Dataset& d, const data::InteractionTable& heldout) {
    return &heldout == &d.test && !d.valid.empty() ? &d.valid : nullptr;
  }
  // What a user is known to have, so never a candidate: training rows and that history.
  const data::Csr& known(const data::Dataset& d, const data::InteractionTable& heldout) const {
    return history_before(d, heldout) ? prepared_.train_and_valid : prepared_.train;
  }
  std::string group_name(std::size_t g) const;
  MetricValues finish(const std::vector<std::int64_t>& sums, const std::vector<std::int64_t>& counts,
                      const std::vector<std::int32_t>* marks, std::int64_t items, const MetricValues& extra) const;
  void full_ranking(Model& model, const data::InteractionTable& heldout, const data::Csr& relevant,
                    const std::vector<std::int32_t>& users,
                    const EvalContext& ctx, std::vector<std::int64_t>& sums, std::vector<std::int64_t>& counts,
                    std::vector<std::int32_t>& marks);
  void sampled_ranking(Model& model, const data::InteractionTable& heldout, const std::vector<std::int64_t>& rows,
                       const EvalContext& ctx, std::vector<std::int64_t>& sums, std::vector<std::int64_t>& counts);
  MetricValues rating_metrics(Model& model, const data::InteractionTable& heldout, const std::vector<std::int64_t>& rows,
                              Communicator& comm);

  bool sampled_;
  std::vector<std::int64_t> cutoffs_;
  std::int64_t negatives_;
  std::vector<std::int64_t> boundaries_;
  std::int64_t batch_users_;
  bool novelty_, diversity_;
  MetricSpec spec_;
  Prepared prepared_;
  // Sampled candidates are drawn once per held-out table and reused every epoch.
  std::map<const data::InteractionTable*, std::vector<std::int32_t>> candidates_;
  // Full-ranking blocks of a held-out table. Kept between evaluations on a GPU
  // (there a host pass over the rank's training rows and their upload would
  // recur every evaluation); on the CPU rebuilt each time, sparing the memory.
  std::map<const data::InteractionTable*, std::unique_ptr<BlockPlan>> plans_;
  // The plan to use: a kept one, or a new one kept (GPU) or left in `own` (CPU).
  const BlockPlan& block_plan(const data::InteractionTable& heldout, const data::Csr& relevant,
                              const std::vector<std::int32_t>& users, std::int64_t block, const Resources& res,
                              std::unique_ptr<BlockPlan>& own);
};

void RankingEvaluator::prepare(const data::Dataset& d) {
  if (prepared_.dataset == &d) return;
  prepared_.dataset = &d;
  // What was kept for another dataset's tables goes (their addresses may recur).
  candidates_.clear();
  plans_.clear();
  prepared_.train = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, d.num_users());
  prepared_.train_and_valid = data::Csr{};
  if (!d.valid.empty()) {
    data::InteractionTable both{d.train.user, d.train.item, {}, {}};
    both.user.insert(both.user.end(), d.valid.user.begin(), d.valid.user.end());
    both.item.insert(both.item.end(), d.valid.item.begin(), d.valid.item.end());
    prepared_.train_and_valid = data::user_item_csr(both, d.num_users());
  }
  prepared_.group.assign(static_cast<std::size_t>(d.num_users()), 0);
  for (std::int32_t u = 0; u < d.num_users(); ++u) {
    const std::int64_t n = prepared_.train.row_size(u);
    prepared_.group[static_cast<std::size_t>(u)] = static_cast<std::int32_t>(
        std::upper_bound(boundaries_.begin(), boundaries_.end(), n) - boundaries_.begin());
  }
  // Popularity = distinct training users per item; add-one smoothing keeps unseen items finite.
  std::vector<std::int64_t> users_of_item(static_cast<std::size_t>(d.num_items()), 0);
  for (std::int32_t u = 0; u < d.num_users(); ++u) {
    for (std::int64_t j = prepared_.train.offsets[static_cast<std::size_t>(u)]; j < prepared_.train.offsets[static_cast<std::size_t>(u) + 1]; ++j) {
      if (j == prepared_.train.offsets[static_cast<std::size_t>(u)] || prepared_.train.col[static_cast<std::size_t>(j)] != prepared_.train.col[static_cast<std::size_t>(j) - 1]) {
        ++users_of_item[static_cast<std::size_t>(prepared_.train.col[static_cast<std::size_t>(j)])];
      }
    }
  }
  prepared_.self_info.resize(users_of_item.size());
  for (std::size_t i = 0; i < users_of_item.size(); ++i) {
    prepared_.self_info[i] = static_cast<float>(-std::log2(static_cast<double>(users_of_item[i] + 1) /
                                                           static_cast<double>(d.num_users() + 1)));
  }
}

std::string RankingEvaluator::group_name(std::size_t g) const {
  if (boundaries_.empty()) return "all";
  if (g == 0) return fmt::format("train<{}", boundaries_[0]);
  if (g == boundaries_.size()) return fmt::format("train>={}", boundaries_.back());
  return fmt::format("train{}-{}", boundaries_[g - 1], boundaries_[g] - 1);
}

MetricValues RankingEvaluator::evaluate(Model& model, const data::InteractionTable& heldout, const EvalContext& ctx) {
  const data::Dataset& d = *ctx.dataset;
  Communicator& comm = *ctx.comm;
  prepare(d);
  const std::size_t groups = boundaries_.size() + 1;
  const std::size_t width = cutoffs_.size() * kMetricsPerK;
  std::vector<std::int64_t> sums(groups * width, 0), counts(groups, 0);
  const data::Csr relevant = data::user_item_csr(heldout, d.num_users());
  // Evaluation users (those with held-out items), split evenly over the ranks.
  std::vector<std::int32_t> eval_users;
  for (std::int32_t u = 0; u < d.num_users(); ++u)
    if (relevant.row_size(u) > 0) eval_users.push_back(u);
  const data::RowRange mine = data::shard_rows(static_cast<std::int64_t>(eval_users.size()), comm.world_size(), comm.rank());
  const std::vector<std::int32_t> my_users(eval_users.begin() + mine.begin, eval_users.begin() + mine.end);
  std::vector<std::int64_t> my_rows;  // held-out rows of my users
  {
    std::vector<std::uint8_t> is_mine(static_cast<std::size_t>(d.num_users()), 0);
    for (std::int32_t u : my_users) is_mine[static_cast<std::size_t>(u)] = 1;
    for (std::int64_t r = 0; r < heldout.size(); ++r)
      if (is_mine[static_cast<std::size_t>(heldout.user[static_cast<std::size_t>(r)])]) my_rows.push_back(r);
  }
  model.set_extra_history(history_before(d, heldout));
  const struct ClearHistory {
    Model& model;
    ~ClearHistory() { model.set_extra_history(nullptr); }
  } clear_history{model};
  std::vector<std::int32_t> marks;
  if (sampled_) {
    sampled_ranking(model, heldout, my_rows, ctx, sums, counts);
  } else {
    marks.assign(cutoffs_.size() * static_cast<std::size_t>(d.num_items()), 0);
    full_ranking(model, heldout, relevant, my_users, ctx, sums, counts, marks);
  }
  Tensor sums_t = Tensor::from_vector(sums), counts_t = Tensor::from_vector(counts);
  comm.allreduce(sums_t, ReduceOp::kSum);
  comm.allreduce(counts_t, ReduceOp::kSum);
  if (!marks.empty()) {
    Tensor marks_t = Tensor::from_vector(marks);
    comm.allreduce(marks_t, ReduceOp::kMax);
    marks = marks_t.to_vector<std::int32_t>();
  }
  const MetricValues ratings = rating_metrics(model, heldout, my_rows, comm);
  return finish(sums_t.to_vector<std::int64_t>(), counts_t.to_vector<std::int64_t>(), marks.empty() ? nullptr : &marks,
                d.num_items(), ratings);
}

const BlockPlan& RankingEvaluator::block_plan(const data::InteractionTable& heldout, const data::Csr& relevant,
                                              const std::vector<std::int32_t>& users, std::int64_t block,
                                              const Resources& res, std::unique_ptr<BlockPlan>& own) {
  const auto build = [&] {
    return std::make_unique<BlockPlan>(known(*prepared_.dataset, heldout), relevant, prepared_.group, users, block,
                                       spec_.graded, res);
  };
  if (res.device().is_cpu()) {
    own = build();
    return *own;
  }
  std::unique_ptr<BlockPlan>& kept = plans_[&heldout];
  if (!kept || kept->device() != res.device() || kept->block_users() != block || kept->users() != users) kept = build();
  return *kept;
}

void RankingEvaluator::full_ranking(Model& model, const data::InteractionTable& heldout, const data::Csr& relevant,
                                    const std::vector<std::int32_t>& users,
                                    const EvalContext& ctx, std::vector<std::int64_t>& sums, std::vector<std::int64_t>& counts,
                                    std::vector<std::int32_t>& marks) {
  const Resources& res = *ctx.resources;
  const data::Dataset& d = *ctx.dataset;
  const std::int64_t items = d.num_items(), kmax = cutoffs_.back();
  Tensor user_emb, item_emb;
  const bool factors = model.embeddings(user_emb, item_emb);
  if (factors) {
    RF_CHECK(user_emb.size(0) == d.num_users() && item_emb.size(0) == items && user_emb.size(1) == item_emb.size(1),
             "model '", model.type(), "' returned embeddings ", user_emb.shape().str(), " and ", item_emb.shape().str(),
             " for ", d.num_users(), " users and ", items, " items");
    user_emb = to_device(user_emb, res);
    item_emb = to_device(item_emb, res).contiguous(res.stream());  // score_topk reads whole rows
  }
  if (diversity_) require_embeddings_for_diversity(model, factors);
  Tensor unit_emb;
  if (diversity_) {
    const Tensor host = item_emb.to(Device::cpu(), res.stream());
    res.synchronize();
    // Items are compared by their features, without the bias columns.
    const std::int64_t width = host.size(1), dim = model.item_feature_columns(width);
    Tensor unit = Tensor::empty({items, dim}, DType::kF32);
    for (std::int64_t i = 0; i < items; ++i) {
      const float* row = host.data_as<float>() + i * width;
      double norm = 0;
      for (std::int64_t c = 0; c < dim; ++c) norm += static_cast<double>(row[c]) * row[c];
      const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
      for (std::int64_t c = 0; c < dim; ++c) unit.data_as<float>()[i * dim + c] = row[c] * inv;
    }
    unit_emb = to_device(unit, res);
  }
  const Tensor self_info = novelty_ ? device_vector(prepared_.self_info, res) : Tensor::empty({0}, DType::kF32);
  Tensor sums_t = Tensor::zeros({static_cast<std::int64_t>(counts.size()), static_cast<std::int64_t>(cutoffs_.size() * kMetricsPerK)},
                                DType::kI64, res.device(), res.stream());
  Tensor counts_t = Tensor::zeros({static_cast<std::int64_t>(counts.size())}, DType::kI64, res.device(), res.stream());
  Tensor marks_t = Tensor::zeros({static_cast<std::int64_t>(cutoffs_.size()), items}, DType::kI32, res.device(), res.stream());
  const std::int64_t block = std::min<std::int64_t>(batch_users_, std::max<std::int64_t>(1, static_cast<std::int64_t>(users.size())));
  std::unique_ptr<BlockPlan> own;
  const BlockPlan& plan = block_plan(heldout, relevant, users, block, res, own);
  // Factor models score inside score_topk; only the others need a (block, I) buffer.
  Tensor scores = factors ? Tensor() : Tensor::empty({block, items}, DType::kF32, res.allocator(), res.stream());
  Tensor rows = factors ? Tensor::empty({block, user_emb.size(1)}, DType::kF32, res.allocator(), res.stream()) : Tensor();
  Tensor top_ids = Tensor::empty({block, kmax}, DType::kI32, res.allocator(), res.stream());
  Tensor top_values = Tensor::empty({block, kmax}, DType::kF32, res.allocator(), res.stream());
  const Tensor unit_t = unit_emb.defined() && unit_emb.numel() ? unit_emb : Tensor::empty({0, 1}, DType::kF32);
  for (std::int64_t k = 0; k < plan.blocks(); ++k) {
    const BlockViews v = plan.block(k);
    Tensor block_ids = top_ids.slice_rows(0, v.size), block_values = top_values.slice_rows(0, v.size);
    if (factors) {
      Tensor block_rows = rows.slice_rows(0, v.size);
      kernels::gather_rows(res, user_emb, v.users, block_rows);
      score_topk(res, block_rows, item_emb, v.train_offsets, v.train_items, block_ids, block_values);
    } else {
      Tensor block_scores = scores.slice_rows(0, v.size);
      model.score(std::span(plan.users()).subspan(static_cast<std::size_t>(v.begin), static_cast<std::size_t>(v.size)),
                  block_scores);
      mask(res, block_scores, v.train_offsets, v.train_items);
      topk(res, block_scores, block_ids, block_values);
    }
    const MetricInputs in{block_ids, v.relevant_offsets, v.relevant_items, v.relevant_gains, v.groups, self_info, unit_t};
    metrics(res, in, spec_, sums_t, counts_t);
    mark_items(res, block_ids, spec_, marks_t);
  }
  // Copies ordered on the stream, then one wait before the host reads them.
  const Tensor sums_on_host = sums_t.to(Device::cpu(), res.stream());
  const Tensor counts_on_host = counts_t.to(Device::cpu(), res.stream());
  const Tensor marks_on_host = marks_t.to(Device::cpu(), res.stream());
  res.synchronize();
  const auto host_sums = sums_on_host.to_vector<std::int64_t>();
  const auto host_counts = counts_on_host.to_vector<std::int64_t>();
  const auto host_marks = marks_on_host.to_vector<std::int32_t>();
  for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += host_sums[i];
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += host_counts[i];
  for (std::size_t i = 0; i < marks.size(); ++i) marks[i] |= host_marks[i];
}

void RankingEvaluator::sampled_ranking(Model& model, const data::InteractionTable& heldout,
                                       const std::vector<std::int64_t>& rows, const EvalContext& ctx,
                                       std::vector<std::int64_t>& sums, std::vector<std::int64_t>& counts) {
  const data::Dataset& d = *ctx.dataset;
  const Resources& res = *ctx.resources;
  const std::int64_t columns = negatives_ + 1;
  check_data(d);
  // Candidates for every held-out row, drawn once: uniform items the user has in
  // neither training nor held-out data, from (seed, row, j) only.
  auto& candidates = candidates_[&heldout];
  if (candidates.empty()) {
    const data::Csr heldout_pairs = data::user_item_csr(heldout, d.num_users());
    const data::Csr& history = known(d, heldout);
    candidates.assign(static_cast<std::size_t>(heldout.size() * columns), 0);
    const std::uint64_t stream = rng_stream(RngPurpose::kEvalNegatives);
    const auto n_items = static_cast<std::uint32_t>(d.num_items());
    for (std::int64_t r = 0; r < heldout.size(); ++r) {
      const std::int32_t u = heldout.user[static_cast<std::size_t>(r)];
      candidates[static_cast<std::size_t>(r * columns)] = heldout.item[static_cast<std::size_t>(r)];
      // Row r owns the counters [r 2^32, (r + 1) 2^32): at 2^20 a row whose
      // draws kept being rejected (up to 1000 per negative) ran into the next.
      std::uint64_t draw = static_cast<std::uint64_t>(r) << 32;
      const auto unknown = [&](std::int32_t item) {
        return !data::csr_contains(history, u, item) && !data::csr_contains(heldout_pairs, u, item);
      };
      std::vector<std::int32_t> left;  // the user's unknown items, listed only when rejection keeps failing
      for (std::int64_t j = 1; j < columns; ++j) {
        std::int32_t item = -1;
        for (int attempt = 0; attempt < 1000 && item < 0; ++attempt) {
          const auto drawn = static_cast<std::int32_t>(philox_below(ctx.seed, stream, draw++, n_items));
          if (unknown(drawn)) item = drawn;
        }
        if (item < 0) {  // a user who knows (nearly) every item: uniform over the rest
          if (left.empty()) {
            for (std::int32_t i = 0; i < static_cast<std::int32_t>(n_items); ++i) {
              if (unknown(i)) left.push_back(i);
            }
          }
          RF_CHECK_KIND(ErrorKind::kData, !left.empty(), "eval.protocol sampled: user ", d.users.text(u),
                        " has every item of the catalogue in training or held out, so no negative can be drawn; "
                        "use eval.protocol: full, or filter such users out");
          item = left[philox_below(ctx.seed, stream, draw++, static_cast<std::uint32_t>(left.size()))];
        }
        candidates[static_cast<std::size_t>(r * columns + j)] = item;
      }
    }
  }
  std::vector<std::int32_t> users, cand;
  for (std::int64_t r : rows) {
    users.push_back(heldout.user[static_cast<std::size_t>(r)]);
    cand.insert(cand.end(), candidates.begin() + r * columns, candidates.begin() + (r + 1) * columns);
  }
  const auto n = static_cast<std::int64_t>(users.size());
  std::vector<std::int32_t> host_ranks;
  Tensor user_emb, item_emb;
  if (model.embeddings(user_emb, item_emb)) {
    Tensor ranks = Tensor::empty({n}, DType::kI32, res.allocator(), res.stream());
    const Tensor users_t = device_vector(users, res), cand_t = to_device(Tensor::from_vector(cand, {n, columns}), res);
    const Tensor user_emb_t = to_device(user_emb, res), item_emb_t = to_device(item_emb, res);
    sampled_ranks(res, user_emb_t, item_emb_t, users_t, cand_t, ranks);
    const Tensor ranks_on_host = ranks.to(Device::cpu(), res.stream());
    res.synchronize();
    host_ranks = ranks_on_host.to_vector<std::int32_t>();
  } else {
    host_ranks = pair_ranks(model, users, cand, columns);
  }
  // One relevant item per candidate list: the metrics follow from its rank.
  const std::size_t width = cutoffs_.size() * kMetricsPerK;
  for (std::int64_t p = 0; p < n; ++p) {
    const int rank = host_ranks[static_cast<std::size_t>(p)];
    const std::int32_t g = prepared_.group[static_cast<std::size_t>(users[static_cast<std::size_t>(p)])];
    std::int64_t* out = sums.data() + static_cast<std::size_t>(g) * width;
    for (std::size_t t = 0; t < cutoffs_.size(); ++t) {
      const bool hit = rank <= cutoffs_[t];
      std::int64_t* o = out + t * kMetricsPerK;
      o[kHit] += to_fixed(hit ? 1.0 : 0.0);
      o[kPrecision] += to_fixed(hit ? 1.0 / static_cast<double>(cutoffs_[t]) : 0.0);
      o[kRecall] += to_fixed(hit ? 1.0 : 0.0);
      o[kNdcg] += to_fixed(hit ? discount(rank - 1) : 0.0);
      o[kMap] += to_fixed(hit ? 1.0 / rank : 0.0);
      o[kMrr] += to_fixed(hit ? 1.0 / rank : 0.0);
    }
    counts[static_cast<std::size_t>(g)] += 1;
  }
}

MetricValues RankingEvaluator::rating_metrics(Model& model, const data::InteractionTable& heldout,
                                              const std::vector<std::int64_t>& rows, Communicator& comm) {
  if (!heldout.has_ratings()) return {};
  std::vector<std::int32_t> users, items;
  for (std::int64_t r : rows) {
    users.push_back(heldout.user[static_cast<std::size_t>(r)]);
    items.push_back(heldout.item[static_cast<std::size_t>(r)]);
  }
  std::vector<float> predicted(users.size());
  const bool supported = model.predict(users, items, predicted);
  if (comm.allreduce_int(supported ? 1 : 0, ReduceOp::kMin) == 0) return {};
  // Fixed-point sums (the same on any number of ranks), at a scale that every
  // rank derives from the largest error anywhere and the number of rows, so
  // that the total fits an int64: 2^32 as for the ranking metrics, less when
  // errors are large (ratings that are counts), where 2^32 overflowed.
  double largest = 0;
  std::vector<double> errors(rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    errors[k] = static_cast<double>(predicted[k]) - heldout.rating[static_cast<std::size_t>(rows[k])];
    // (A NaN counts as infinite: std::max would pass over it.)
    largest = std::max(largest, std::isnan(errors[k]) ? INFINITY : std::fabs(errors[k]));
  }
  largest = comm.allreduce_double(largest, ReduceOp::kMax);
  const std::int64_t total_rows = comm.allreduce_int(static_cast<std::int64_t>(rows.size()), ReduceOp::kSum);
  if (total_rows == 0) return {};
  // A non-finite prediction anywhere: the metrics are undefined.
  if (!std::isfinite(largest)) return {{"rmse", std::nan("")}, {"mae", std::nan("")}};
  const double bound = std::max(largest * largest, largest) * static_cast<double>(total_rows);
  const int exponent = std::min(32, static_cast<int>(std::floor(61.0 - std::log2(std::max(bound, 1.0)))));
  std::int64_t squared = 0, absolute = 0;
  for (const double e : errors) {
    squared += static_cast<std::int64_t>(std::ldexp(e * e, exponent) + 0.5);
    absolute += static_cast<std::int64_t>(std::ldexp(std::fabs(e), exponent) + 0.5);
  }
  Tensor totals = Tensor::from_vector(std::vector<std::int64_t>{squared, absolute});
  comm.allreduce(totals, ReduceOp::kSum);
  const auto t = totals.to_vector<std::int64_t>();
  return {{"rmse", std::sqrt(std::ldexp(static_cast<double>(t[0]), -exponent) / static_cast<double>(total_rows))},
          {"mae", std::ldexp(static_cast<double>(t[1]), -exponent) / static_cast<double>(total_rows)}};
}

MetricValues RankingEvaluator::finish(const std::vector<std::int64_t>& sums, const std::vector<std::int64_t>& counts,
                                      const std::vector<std::int32_t>* marks, std::int64_t items,
                                      const MetricValues& extra) const {
  const std::size_t width = cutoffs_.size() * kMetricsPerK;
  MetricValues out;
  std::int64_t users = 0;
  for (std::int64_t c : counts) users += c;
  const auto sum_at = [&](std::size_t g, std::size_t t, int m) {
    return sums[g * width + t * kMetricsPerK + static_cast<std::size_t>(m)];
  };
  // Exact integer totals, one division at the end.
  const auto mean = [](long double fixed_total, std::int64_t n) {
    return n ? static_cast<double>(fixed_total / static_cast<long double>(kFixedScale) / n) : 0.0;
  };
  const auto value = [&](std::size_t g_begin, std::size_t g_end, std::size_t t, int m) {
    long double total = 0;
    std::int64_t n = 0;
    for (std::size_t g = g_begin; g < g_end; ++g) {
      total += static_cast<long double>(sum_at(g, t, m));
      n += counts[g];
    }
    return mean(total, n);
  };
  // Novelty and diversity average over the users whose lists have them.
  const auto list_mean = [&](std::size_t t, int m, int lists) {
    long double total = 0;
    std::int64_t n = 0;
    for (std::size_t g = 0; g < counts.size(); ++g) {
      total += static_cast<long double>(sum_at(g, t, m));
      n += sum_at(g, t, lists);
    }
    return mean(total, n);
  };
  for (std::size_t t = 0; t < cutoffs_.size(); ++t) {
    const std::string at = "@" + std::to_string(cutoffs_[t]);
    for (int m : kReportedPerK) out.emplace_back(kMetricNames[m] + at, value(0, counts.size(), t, m));
    if (marks) {
      std::int64_t covered = 0;
      for (std::int64_t i = 0; i < items; ++i) covered += (*marks)[t * static_cast<std::size_t>(items) + static_cast<std::size_t>(i)];
      out.emplace_back("coverage" + at, static_cast<double>(covered) / static_cast<double>(items));
      if (novelty_) out.emplace_back("novelty" + at, list_mean(t, kNovelty, kNoveltyLists));
      if (diversity_) out.emplace_back("diversity" + at, list_mean(t, kDiversity, kDiversityLists));
    }
  }
  out.emplace_back("users", static_cast<double>(users));
  for (const auto& e : extra) out.push_back(e);
  for (std::size_t g = 0; g < counts.size(); ++g) {
    const std::string suffix = "[" + group_name(g) + "]";
    out.emplace_back("users" + suffix, static_cast<double>(counts[g]));
    for (std::size_t t = 0; t < cutoffs_.size(); ++t) {
      const std::string at = "@" + std::to_string(cutoffs_[t]);
      for (int m : kReportedPerGroup) out.emplace_back(kMetricNames[m] + at + suffix, value(g, g + 1, t, m));
    }
  }
  return out;
}

// The names finish() gives, in its order (tests/plugins/ranking_test.cpp
// holds the two together), and rmse/mae when the held-out data has ratings.
std::vector<std::string> RankingEvaluator::possible_metrics(const data::Dataset& d) const {
  std::vector<std::string> out;
  for (std::int64_t k : cutoffs_) {
    const std::string at = "@" + std::to_string(k);
    for (int m : kReportedPerK) out.push_back(kMetricNames[m] + at);
    if (sampled_) continue;
    out.push_back("coverage" + at);
    if (novelty_) out.push_back("novelty" + at);
    if (diversity_) out.push_back("diversity" + at);
  }
  out.emplace_back("users");
  if (d.valid.has_ratings() || d.test.has_ratings()) {
    out.emplace_back("rmse");
    out.emplace_back("mae");
  }
  for (std::size_t g = 0; g <= boundaries_.size(); ++g) {
    const std::string suffix = "[" + group_name(g) + "]";
    out.push_back("users" + suffix);
    for (std::int64_t k : cutoffs_) {
      const std::string at = "@" + std::to_string(k);
      for (int m : kReportedPerGroup) out.push_back(kMetricNames[m] + at + suffix);
    }
  }
  return out;
}

std::string RankingEvaluator::format(const MetricValues& values) const {
  const auto get = [&](const std::string& name) {
    for (const auto& [n, v] : values)
      if (n == name) return fmt::format("{:.4f}", v);
    return std::string("-");
  };
  std::string out = fmt::format("{:<12}", "metric");
  for (std::int64_t k : cutoffs_) out += fmt::format("{:>10}", "@" + std::to_string(k));
  out += "\n";
  for (const char* metric : {"recall", "ndcg", "precision", "hit_rate", "map", "mrr", "coverage", "novelty", "diversity"}) {
    if (get(std::string(metric) + "@" + std::to_string(cutoffs_[0])) == "-") continue;
    out += fmt::format("{:<12}", metric);
    for (std::int64_t k : cutoffs_) out += fmt::format("{:>10}", get(std::string(metric) + "@" + std::to_string(k)));
    out += "\n";
  }
  const std::string kmax = "@" + std::to_string(cutoffs_.back());
  out += fmt::format("users {}", get("users").substr(0, get("users").find('.')));
  for (const char* m : {"rmse", "mae"})
    if (get(m) != "-") out += fmt::format(", {} {}", m, get(m));
  out += "\nby training interactions: group, users, recall" + kmax + ", ndcg" + kmax + "\n";
  for (std::size_t g = 0; g <= boundaries_.size(); ++g) {
    const std::string suffix = "[" + group_name(g) + "]";
    const std::string users = get("users" + suffix);
    out += fmt::format("  {:<14}{:>8}{:>10}{:>10}\n", group_name(g), users.substr(0, users.find('.')),
                       get("recall" + kmax + suffix), get("ndcg" + kmax + suffix));
  }
  return out;
}

}  // namespace
}  // namespace recforge::ranking

RF_REGISTER_EVALUATOR("ranking", recforge::ranking::RankingEvaluator);
