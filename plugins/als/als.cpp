// ALS: alternating least squares for implicit feedback (Hu, Koren & Volinsky
// 2008; with the unobserved weight and frequency-scaled regularisation of
// Rendle et al., "Revisiting the Performance of iALS") and for explicit ratings
// (weighted-lambda regularisation, Zhou et al. 2008), with optional biases.
//
// One epoch = one ALS iteration: solve every user given the items, then every
// item given the users (equations in als_kernels.hpp). Users and items are split
// over the ranks by interaction count; each rank solves its rows against the full
// other side and the new rows are all-gathered. Each row's solve reads only the
// other side and the Gram matrix, both bit-identical on every rank, so 1 and N
// ranks compute the same factors.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "als_kernels.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/shard.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::als {
namespace {

// One side's observations as CSR, on the model's device.
struct Side {
  Tensor offsets, cols, weights, targets;
  std::vector<std::int64_t> host_offsets;
  std::vector<std::int32_t> bounds;  // rows of rank r: [bounds[r], bounds[r + 1])
};

class AlsModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("Alternating least squares: implicit (confidence-weighted) or explicit (ratings) feedback");
    s.add_int("factors", 64, "latent dimension D", 1, 1024)
        .add_string("feedback", "implicit", "implicit: confidences 1 + alpha r on observed pairs; explicit: fit ratings",
                    {"implicit", "explicit"})
        .add_float("alpha", 1.0, "implicit: confidence slope, c = 1 + alpha r", 0.0)
        .add_string("confidence_from", "binary", "implicit: r = 1 per interaction (binary) or the rating",
                    {"binary", "rating"})
        .add_float("reg", 0.01, "L2 weight lambda", 0.0)
        .add_float("unobserved_weight", 1.0, "implicit: weight a0 of unobserved pairs (1: Hu et al.)", 0.0)
        .add_float("reg_exponent", 0.0,
                   "frequency-scaled L2: lambda_u = reg (n_u + a0 N)^nu (0: plain; explicit weighted-lambda uses 1)", 0.0, 2.0)
        .add_string("solver", "cg", "normal equations: cg (conjugate gradient, warm start) or cholesky (exact)",
                    {"cg", "cholesky"})
        .add_int("cg_steps", 3, "conjugate-gradient steps per row and side", 1, 100)
        .add_float("init_std", 0.01, "standard deviation of the initial factors (> 0: factors that start at zero never move)", 0.0)
        .add_bool("biases", false, "explicit: learn user and item biases (an extra factor pinned to 1)")
        .add_bool("compute_loss", true, "compute the training loss after every epoch (one more pass over the data)");
    return s;
  }

  explicit AlsModel(const ConfigNode& c)
      : factors_(c.get_int("factors")),
        implicit_(c.get_string("feedback") == "implicit"),
        alpha_(static_cast<float>(c.get_double("alpha"))),
        confidence_from_rating_(c.get_string("confidence_from") == "rating"),
        init_std_(static_cast<float>(c.get_double("init_std"))),
        cholesky_(c.get_string("solver") == "cholesky"),
        biases_(c.get_bool("biases")),
        compute_loss_(c.get_bool("compute_loss")) {
    require_positive_init_std(c);
    options_.reg = static_cast<float>(c.get_double("reg"));
    options_.unobserved_weight = implicit_ ? static_cast<float>(c.get_double("unobserved_weight")) : 0.0f;
    options_.reg_exponent = static_cast<float>(c.get_double("reg_exponent"));
    options_.cg_steps = static_cast<int>(c.get_int("cg_steps"));
    RF_CHECK_KIND(ErrorKind::kConfig, !(biases_ && implicit_), c["biases"].where(),
                  ": biases are supported with feedback: explicit only");
  }

  std::string_view type() const override { return "als"; }
  Training training() const override { return Training::kEpoch; }
  std::vector<Parameter*> parameters() override { return {&*users_, &*items_}; }

  StepStats train_epoch(std::int64_t epoch) override;
  bool embeddings(Tensor& users, Tensor& items) override;
  std::int64_t item_bias_columns() const override { return biases_ ? 2 : 0; }  // [q_i, 1, b_i]
  bool predict(std::span<const std::int32_t> users, std::span<const std::int32_t> items, std::span<float> out) override;
  bool fold_in(std::span<const std::int32_t> items, std::span<const float> values, std::span<float> user) override;
  bool supports_fold_in() const override { return true; }

  // The loss the last epoch reached (data + regularisation, all ranks).
  double last_loss() const { return last_loss_; }

 protected:
  void build_impl(const ModelContext& ctx) override;

 private:
  // Stored rows: [factors] or, with biases, [factors, own bias].
  std::int64_t width() const { return factors_ + (biases_ ? 1 : 0); }
  Side make_side(const data::InteractionTable& t, bool by_user, std::int32_t rows, int world) const;
  // The fixed side as the solved side sees it. With biases the fixed side's bias
  // column becomes ones (it multiplies the solved row's own bias) and its bias
  // moves into the targets: solving [p_u, b_u] against [q_i, 1] for r - b_i.
  struct FixedSide {
    Tensor other, targets;
  };
  FixedSide fixed_side(const Tensor& other, const Side& side) const;
  void solve(Tensor& solved, const Tensor& other, const Side& side, Communicator& comm);
  double side_loss(const Tensor& solved, const Tensor& other, const Side& side, bool data_term, Communicator& comm);

  std::int64_t factors_;
  bool implicit_;
  float alpha_;
  bool confidence_from_rating_;
  float init_std_;
  bool cholesky_;
  bool biases_;
  bool compute_loss_;
  Options options_;
  std::unique_ptr<Parameter> users_, items_;
  Side by_user_, by_item_;
  Tensor gram_;
  double last_loss_ = 0;
  // Fold-in reads the item side only: its Gram matrix is computed once per
  // version of the item factors, under a lock (the server folds in from many threads).
  struct FoldInCache {
    std::uint64_t items_version = 0;
    Tensor other, gram;
  };
  const FoldInCache& fold_in_cache() const;
  std::uint64_t items_version_ = 0;  // bumped by every epoch
  mutable std::mutex fold_in_mutex_;
  mutable std::unique_ptr<FoldInCache> fold_in_cache_;
};

Side AlsModel::make_side(const data::InteractionTable& t, bool by_user, std::int32_t rows, int world) const {
  // CSR with the weights/targets of the formulation (see als_kernels.hpp).
  data::InteractionTable values{by_user ? t.user : t.item, by_user ? t.item : t.user, {}, {}};
  const bool use_rating = t.has_ratings() && (!implicit_ || confidence_from_rating_);
  values.rating.resize(t.user.size());
  for (std::size_t k = 0; k < t.user.size(); ++k) values.rating[k] = use_rating ? t.rating[k] : 1.0f;
  const data::Csr csr = data::user_item_csr(values, rows);
  Side side;
  side.host_offsets = csr.offsets;
  side.bounds = data::partition_users(csr.offsets, world);
  const Resources& res = *context().resources;
  const auto on_device = [&](const auto& v) { return Tensor::from_vector(v).to(res.device(), res.stream()); };
  side.offsets = on_device(csr.offsets);
  side.cols = on_device(csr.col);
  if (implicit_) {
    std::vector<float> confidence(csr.value.size());
    for (std::size_t k = 0; k < csr.value.size(); ++k) confidence[k] = 1.0f + alpha_ * csr.value[k];
    side.weights = on_device(confidence);
    side.targets = Tensor::empty({0}, DType::kF32, res.device(), res.stream());
  } else {
    side.weights = Tensor::empty({0}, DType::kF32, res.device(), res.stream());
    side.targets = on_device(csr.value);
  }
  return side;
}

void AlsModel::build_impl(const ModelContext& ctx) {
  const data::Dataset* d = ctx.dataset;
  const Resources& res = *ctx.resources;
  RF_CHECK_KIND(ErrorKind::kConfig, implicit_ || !d || d->train.has_ratings(),
                "model als with feedback: explicit needs ratings; the training data has none");
  const auto table = [&](const char* name, std::int64_t rows, std::uint32_t stream) {
    Tensor t = Tensor::empty({rows, width()}, DType::kF32, res.device(), res.stream());
    kernels::fill_normal(res, t, 0.0f, init_std_, ctx.seed, rng_stream(RngPurpose::kInit, stream));
    return std::make_unique<Parameter>(name, t, Parameter::Kind::kDense);
  };
  users_ = table("als.user_factors", d ? d->num_users() : ctx.num_users, 0);
  items_ = table("als.item_factors", d ? d->num_items() : ctx.num_items, 1);
  gram_ = Tensor::zeros({width(), width()}, DType::kF32, res.device(), res.stream());
  if (!d) return;  // a serving build: factors only (loaded next), for fold-in
  by_user_ = make_side(d->train, true, d->num_users(), ctx.comm->world_size());
  by_item_ = make_side(d->train, false, d->num_items(), ctx.comm->world_size());
}

const AlsModel::FoldInCache& AlsModel::fold_in_cache() const {
  std::lock_guard<std::mutex> lock(fold_in_mutex_);
  if (!fold_in_cache_ || fold_in_cache_->items_version != items_version_) {
    const Resources& res = *context().resources;
    auto cache = std::make_unique<FoldInCache>();
    cache->items_version = items_version_;
    // The fixed side as a one-row solve sees it (biases: bias column set to 1).
    Side none;
    none.targets = Tensor::empty({0}, DType::kF32, res.device(), res.stream());
    none.cols = Tensor::empty({0}, DType::kI32, res.device(), res.stream());
    cache->other = fixed_side(items_->value(), none).other;
    cache->gram = Tensor::zeros({width(), width()}, DType::kF32, res.device(), res.stream());
    if (options_.unobserved_weight != 0.0f) gram(res, cache->other, cache->gram);
    res.synchronize();
    fold_in_cache_ = std::move(cache);
  }
  return *fold_in_cache_;
}

AlsModel::FixedSide AlsModel::fixed_side(const Tensor& other, const Side& side) const {
  if (!biases_) return {other, side.targets};
  const Resources& res = *context().resources;
  Tensor y = other.to(Device::cpu(), res.stream());
  Tensor targets = side.targets.to(Device::cpu(), res.stream());
  const Tensor cols = side.cols.to(Device::cpu(), res.stream());
  res.synchronize();
  const std::int64_t w = width();
  for (std::int64_t k = 0; k < targets.numel(); ++k) {
    targets.data_as<float>()[k] -= y.data_as<float>()[static_cast<std::int64_t>(cols.data_as<std::int32_t>()[k]) * w + w - 1];
  }
  for (std::int64_t r = 0; r < y.size(0); ++r) y.data_as<float>()[r * w + w - 1] = 1.0f;
  return {y.to(res.device(), res.stream()), targets.to(res.device(), res.stream())};
}

void AlsModel::solve(Tensor& solved, const Tensor& other, const Side& side, Communicator& comm) {
  const Resources& res = *context().resources;
  const FixedSide fixed = fixed_side(other, side);
  if (options_.unobserved_weight != 0.0f) gram(res, fixed.other, gram_);
  const std::int32_t begin = side.bounds[static_cast<std::size_t>(comm.rank())];
  const std::int32_t end = side.bounds[static_cast<std::size_t>(comm.rank()) + 1];
  const Problem problem{solved, fixed.other, gram_, side.offsets, side.cols, side.weights, fixed.targets, begin, end};
  if (cholesky_) {
    solve_cholesky(res, problem, options_);
  } else {
    solve_cg(res, problem, options_);
  }
  if (comm.world_size() > 1) {
    std::vector<std::int64_t> counts;
    for (std::size_t r = 0; r + 1 < side.bounds.size(); ++r) counts.push_back(side.bounds[r + 1] - side.bounds[r]);
    const Tensor mine = solved.slice_rows(begin, end).contiguous(res.stream()).to(solved.device(), res.stream());
    comm.allgatherv(mine, solved, counts);
  }
}

double AlsModel::side_loss(const Tensor& solved, const Tensor& other, const Side& side, bool data_term,
                           Communicator& comm) {
  const std::int32_t begin = side.bounds[static_cast<std::size_t>(comm.rank())];
  const std::int32_t end = side.bounds[static_cast<std::size_t>(comm.rank()) + 1];
  Options o = options_;
  o.data_term = data_term;
  const FixedSide fixed = fixed_side(other, side);
  if (data_term && options_.unobserved_weight != 0.0f) gram(*context().resources, fixed.other, gram_);
  const Problem problem{solved, fixed.other, gram_, side.offsets, side.cols, side.weights, fixed.targets, begin, end};
  return comm.allreduce_double(loss(*context().resources, problem, o), ReduceOp::kSum);
}

StepStats AlsModel::train_epoch(std::int64_t) {
  Communicator& comm = *context().comm;
  Tensor& x = users_->value();
  Tensor& y = items_->value();
  solve(x, y, by_user_, comm);
  solve(y, x, by_item_, comm);
  ++items_version_;
  if (!compute_loss_) return {0.0, 0};
  // Loss after the epoch: users' data and regularisation terms, plus the items' regularisation.
  last_loss_ = side_loss(x, y, by_user_, true, comm) + side_loss(y, x, by_item_, false, comm);
  return {last_loss_, 1};
}

bool AlsModel::embeddings(Tensor& users, Tensor& items) {
  if (!biases_) {
    users = users_->value();
    items = items_->value();
    return true;
  }
  // [p_u, b_u, 1] . [q_i, 1, b_i] = p_u.q_i + b_u + b_i
  const Resources& res = *context().resources;
  const Tensor x = users_->value().to(Device::cpu(), res.stream()), y = items_->value().to(Device::cpu(), res.stream());
  res.synchronize();
  const std::int64_t w = width();
  users = Tensor::empty({x.size(0), w + 1}, DType::kF32);
  items = Tensor::empty({y.size(0), w + 1}, DType::kF32);
  for (std::int64_t r = 0; r < x.size(0); ++r) {
    std::copy(x.data_as<float>() + r * w, x.data_as<float>() + (r + 1) * w, users.data_as<float>() + r * (w + 1));
    users.data_as<float>()[r * (w + 1) + w] = 1.0f;
  }
  for (std::int64_t r = 0; r < y.size(0); ++r) {
    float* out = items.data_as<float>() + r * (w + 1);
    std::copy(y.data_as<float>() + r * w, y.data_as<float>() + r * w + factors_, out);
    out[factors_] = 1.0f;
    out[factors_ + 1] = y.data_as<float>()[r * w + factors_];
  }
  return true;
}

bool AlsModel::predict(std::span<const std::int32_t> users, std::span<const std::int32_t> items, std::span<float> out) {
  if (implicit_) return false;
  const Resources& res = *context().resources;
  const Tensor x = users_->value().to(Device::cpu(), res.stream()), y = items_->value().to(Device::cpu(), res.stream());
  res.synchronize();
  const std::int64_t w = width();
  for (std::size_t k = 0; k < users.size(); ++k) {
    const float* p = x.data_as<float>() + static_cast<std::int64_t>(users[k]) * w;
    const float* q = y.data_as<float>() + static_cast<std::int64_t>(items[k]) * w;
    float s = biases_ ? p[factors_] + q[factors_] : 0.0f;
    for (std::int64_t c = 0; c < factors_; ++c) s += p[c] * q[c];
    out[k] = s;
  }
  return true;
}

bool AlsModel::fold_in(std::span<const std::int32_t> items, std::span<const float> values, std::span<float> user) {
  RF_CHECK(items.size() == values.size(), "fold_in: ", items.size(), " items but ", values.size(), " values");
  // The result is the user's row of embeddings(): [x] or, with biases, [x, 1].
  const std::int64_t embedding_width = width() + (biases_ ? 1 : 0);
  RF_CHECK(static_cast<std::int64_t>(user.size()) == embedding_width, "fold_in: the user embedding has ",
           embedding_width, " dimensions, got room for ", user.size());
  const Resources& res = *context().resources;
  const std::int64_t n_items = items_->value().size(0);
  for (std::int32_t i : items) RF_CHECK(i >= 0 && i < n_items, "fold_in: item ", i, " outside [0, ", n_items, ")");
  // One-row problem, solved exactly.
  std::vector<std::int64_t> offsets = {0, static_cast<std::int64_t>(items.size())};
  std::vector<float> weights, targets;
  for (float v : values) {
    if (implicit_) {
      // A negative (or overflowing) value would make the system indefinite:
      // the caller's input, not a numerical failure.
      const float confidence = 1.0f + alpha_ * (confidence_from_rating_ ? v : 1.0f);
      RF_CHECK(std::isfinite(confidence) && confidence > 0.0f, "fold_in: value ", v, " gives the confidence 1 + ", alpha_,
               " x value = ", confidence, "; it must be positive");
      weights.push_back(confidence);
    } else {
      RF_CHECK(std::isfinite(v), "fold_in: value ", v, " is not finite");
      targets.push_back(v);
    }
  }
  const auto dev = [&](const Tensor& t) { return t.to(res.device(), res.stream()); };
  Tensor x = Tensor::zeros({1, width()}, DType::kF32, res.device(), res.stream());
  const FoldInCache& cache = fold_in_cache();
  if (biases_) {  // the fixed side's biases move into the targets (see fixed_side)
    const Tensor y = items_->value().to(Device::cpu(), res.stream());
    res.synchronize();
    for (std::size_t k = 0; k < targets.size(); ++k) targets[k] -= y.data_as<float>()[items[k] * width() + width() - 1];
  }
  const Tensor offsets_t = dev(Tensor::from_vector(offsets));
  const Tensor cols_t = dev(Tensor::from_vector(std::vector<std::int32_t>(items.begin(), items.end())));
  const Tensor weights_t = dev(Tensor::from_vector(weights)), targets_t = dev(Tensor::from_vector(targets));
  solve_cholesky(res, Problem{x, cache.other, cache.gram, offsets_t, cols_t, weights_t, targets_t, 0, 1}, options_);
  const Tensor host = x.to(Device::cpu(), res.stream());
  res.synchronize();
  std::copy(host.data_as<float>(), host.data_as<float>() + width(), user.begin());
  if (biases_) user[static_cast<std::size_t>(width())] = 1.0f;
  return true;
}

}  // namespace
}  // namespace recforge::als

RF_REGISTER_MODEL("als", recforge::als::AlsModel);
