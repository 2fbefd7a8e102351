// MF: biased matrix factorisation trained by mini-batch SGD (Koren et al. 2009).
//   loss mse  explicit ratings: (g + b_u + b_i + p_u.q_i - r)^2 + L2 on touched rows
//   loss bpr  implicit feedback (Rendle et al. 2009): -log sigmoid(x_ui - x_uj) with
//             one sampled negative j per positive, L2 on touched rows
// Every table is an embedding parameter (only touched rows travel and update);
// the global bias is the one dense parameter (mse).
#include "mf_kernels.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/kernels/nn.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::mf {
namespace {

class MfModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("Biased matrix factorisation trained by mini-batch SGD (mse on ratings, or bpr on implicit feedback)");
    s.add_int("factors", 64, "latent dimension D", 1, 4096)
        .add_string("loss", "bpr", "mse: rating prediction; bpr: pairwise ranking with sampled negatives",
                    {"mse", "bpr"})
        .add_float("init_std", 0.1, "standard deviation of the normal initialisation of the factors (> 0: factors that start at zero never move)", 0.0)
        .add_float("reg", 1e-4, "L2 weight on the rows a step touches", 0.0)
        .add_string("negatives", "uniform", "bpr negative sampling distribution", {"uniform", "popularity"})
        .add_bool("exclude_positives", true, "bpr: never draw a user's training items as negatives");
    return s;
  }

  explicit MfModel(const ConfigNode& c)
      : factors_(c.get_int("factors")),
        bpr_(c.get_string("loss") == "bpr"),
        init_std_(static_cast<float>(c.get_double("init_std"))),
        reg_(static_cast<float>(c.get_double("reg"))),
        popularity_(c.get_string("negatives") == "popularity"),
        exclude_positives_(c.get_bool("exclude_positives")) {
    require_positive_init_std(c);
  }

  std::string_view type() const override { return "mf"; }

  std::vector<Parameter*> parameters() override {
    std::vector<Parameter*> out = {&*user_, &*item_, &*item_bias_};
    if (!bpr_) out.insert(out.end(), {&*user_bias_, &*global_bias_});
    return out;
  }

  StepStats train_step(const TrainBatch& batch) override;

  // Rating predictions g + b_u + b_i + p_u.q_i (mse models only).
  bool predict(std::span<const std::int32_t> users, std::span<const std::int32_t> items, std::span<float> out) override {
    if (bpr_) return false;
    const Tensor p = host(user_->value()), q = host(item_->value()), bu = host(user_bias_->value()),
                 bi = host(item_bias_->value()), g = host(global_bias_->value());
    for (std::size_t k = 0; k < users.size(); ++k) {
      const float* pu = p.data_as<float>() + static_cast<std::int64_t>(users[k]) * factors_;
      const float* qi = q.data_as<float>() + static_cast<std::int64_t>(items[k]) * factors_;
      float s = g.data_as<float>()[0] + bu.data_as<float>()[users[k]] + bi.data_as<float>()[items[k]];
      for (std::int64_t c = 0; c < factors_; ++c) s += pu[c] * qi[c];
      out[k] = s;
    }
    return true;
  }

  bool embeddings(Tensor& users, Tensor& items) override {
    // score(u, i) = p_u.q_i + b_i (+ terms constant per user): [p_u, 1] . [q_i, b_i]
    const Tensor p = host(user_->value()), q = host(item_->value()), bi = host(item_bias_->value());
    users = concat_column(p, nullptr);
    items = concat_column(q, &bi);
    return true;
  }
  std::int64_t item_bias_columns() const override { return 1; }  // b_i

 protected:
  void build_impl(const ModelContext& ctx) override {
    const data::Dataset& d = *ctx.dataset;
    const Resources& res = *ctx.resources;
    RF_CHECK_KIND(ErrorKind::kConfig, bpr_ || d.train.has_ratings(),
                  "model mf with loss mse needs ratings, but the training data has none (use loss: bpr)");
    const auto table = [&](const char* name, std::int64_t rows, std::int64_t cols, std::uint32_t stream, bool random) {
      Tensor t = Tensor::zeros({rows, cols}, DType::kF32, res.device(), res.stream());
      if (random) kernels::fill_normal(res, t, 0.0f, init_std_, ctx.seed, rng_stream(RngPurpose::kInit, stream));
      return std::make_unique<Parameter>(name, t, Parameter::Kind::kEmbedding);
    };
    user_ = table("mf.user_factors", d.num_users(), factors_, 0, true);
    item_ = table("mf.item_factors", d.num_items(), factors_, 1, true);
    user_bias_ = table("mf.user_bias", d.num_users(), 1, 2, false);
    item_bias_ = table("mf.item_bias", d.num_items(), 1, 3, false);
    double mean = 0;
    for (float r : d.train.rating) mean += r;
    mean = d.train.rating.empty() ? 0.0 : mean / static_cast<double>(d.train.rating.size());
    Tensor g = Tensor::from_vector(std::vector<float>{bpr_ ? 0.0f : static_cast<float>(mean)});
    global_bias_ = std::make_unique<Parameter>("mf.global_bias", g.to(res.device(), res.stream()), Parameter::Kind::kDense);
    if (bpr_) {
      positives_ = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, d.num_users());
      std::vector<std::int64_t> counts(static_cast<std::size_t>(d.num_items()), 0);
      for (std::int32_t i : d.train.item) ++counts[static_cast<std::size_t>(i)];
      sampler_ = std::make_unique<data::NegativeSampler>(
          d.num_items(), popularity_ ? data::NegativeSampler::Distribution::kPopularity
                                     : data::NegativeSampler::Distribution::kUniform,
          exclude_positives_ ? &positives_ : nullptr, counts, 0.75);
    }
  }

 private:
  Tensor host(const Tensor& t) const {
    if (t.device().is_cpu()) return t;
    Tensor h = t.to(Device::cpu(), context().resources->stream());
    context().resources->synchronize();
    return h;
  }

  // [a, column] with column = b (n x 1) or ones.
  static Tensor concat_column(const Tensor& a, const Tensor* b) {
    const std::int64_t n = a.size(0), d = a.size(1);
    Tensor out = Tensor::empty({n, d + 1}, DType::kF32);
    for (std::int64_t r = 0; r < n; ++r) {
      std::copy(a.data_as<float>() + r * d, a.data_as<float>() + (r + 1) * d, out.data_as<float>() + r * (d + 1));
      out.data_as<float>()[r * (d + 1) + d] = b ? b->data_as<float>()[r] : 1.0f;
    }
    return out;
  }

  std::int64_t factors_;
  bool bpr_;
  float init_std_, reg_;
  bool popularity_, exclude_positives_;
  std::unique_ptr<Parameter> user_, item_, user_bias_, item_bias_, global_bias_;
  data::Csr positives_;
  std::unique_ptr<data::NegativeSampler> sampler_;
};

StepStats MfModel::train_step(const TrainBatch& batch) {
  const data::Dataset& d = *context().dataset;
  const Resources& res = *context().resources;
  const auto n = static_cast<std::int64_t>(batch.rows.size());
  // The batch's columns on the host; negatives keyed by (seed, epoch, global row
  // index), so they do not depend on which rank draws them.
  std::vector<std::int32_t> users(static_cast<std::size_t>(n)), items(static_cast<std::size_t>(n)), negatives;
  std::vector<float> ratings;
  for (std::int64_t k = 0; k < n; ++k) {
    const std::uint32_t row = batch.rows[static_cast<std::size_t>(k)];
    users[static_cast<std::size_t>(k)] = d.train.user[row];
    items[static_cast<std::size_t>(k)] = d.train.item[row];
  }
  if (bpr_) {
    negatives.resize(static_cast<std::size_t>(n));
    const std::uint64_t stream = rng_stream(RngPurpose::kNegatives, static_cast<std::uint32_t>(batch.epoch));
    for (std::int64_t k = 0; k < n; ++k) {
      negatives[static_cast<std::size_t>(k)] =
          sampler_->sample(users[static_cast<std::size_t>(k)], context().seed, stream, batch.rows[static_cast<std::size_t>(k)]);
    }
  } else {
    ratings.resize(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) ratings[static_cast<std::size_t>(k)] = d.train.rating[batch.rows[static_cast<std::size_t>(k)]];
  }
  const Stream& stream = res.stream();
  const auto on_device = [&](auto& values) { return Tensor::from_vector(values).to(res.device(), stream); };
  const Tensor u = on_device(users), i = on_device(items);
  const Tensor j = bpr_ ? on_device(negatives) : Tensor();
  const Tensor r = bpr_ ? Tensor() : on_device(ratings);
  const auto empty = [&](Shape shape) { return Tensor::empty(shape, DType::kF32, res.allocator(), stream); };
  Tensor du = empty({n, factors_}), di = empty({n, factors_}), dib = empty({n, 1}), loss = empty({n});
  Tensor dj = bpr_ ? empty({n, factors_}) : Tensor(), djb = bpr_ ? empty({n, 1}) : Tensor();
  Tensor dub = bpr_ ? Tensor() : empty({n, 1}), dg = bpr_ ? Tensor() : empty({n});
  const Tables tables{user_->value(), item_->value(), user_bias_->value(), item_bias_->value(), global_bias_->value()};
  const Batch b{u, i, j, r};
  const Grads grads{du, di, dj, dub, dib, djb, dg, loss};
  const float scale = 1.0f / static_cast<float>(batch.global_rows);
  if (bpr_) {
    bpr_step(res, tables, b, grads, scale, reg_);
  } else {
    mse_step(res, tables, b, grads, scale, reg_);
  }

  // Gradients as rows of the tables; the item table takes positives then negatives.
  user_->rows() = SparseRows{u, du};
  if (bpr_) {
    Tensor ids = Tensor::empty({2 * n}, DType::kI32, res.allocator(), stream);
    Tensor rows = empty({2 * n, factors_});
    ids.slice_rows(0, n).copy_from(i, stream);
    ids.slice_rows(n, 2 * n).copy_from(j, stream);
    rows.slice_rows(0, n).copy_from(di, stream);
    rows.slice_rows(n, 2 * n).copy_from(dj, stream);
    item_->rows() = SparseRows{ids, rows};
    Tensor bias_rows = empty({2 * n, 1});
    bias_rows.slice_rows(0, n).copy_from(dib, stream);
    bias_rows.slice_rows(n, 2 * n).copy_from(djb, stream);
    item_bias_->rows() = SparseRows{ids, bias_rows};
  } else {
    item_->rows() = SparseRows{i, di};
    user_bias_->rows() = SparseRows{u, dub};
    item_bias_->rows() = SparseRows{i, dib};
    kernels::sum_all(res, dg, global_bias_->grad(stream));  // the batch's contributions, summed in place
  }
  return {.examples = n, .loss = loss};  // the trainer reads the loss with its checks
}

}  // namespace
}  // namespace recforge::mf

RF_REGISTER_MODEL("mf", recforge::mf::MfModel);
