// LightGCN (He et al., SIGIR 2020): embeddings propagated over the
// symmetric-normalised user-item graph, A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2,
// E_k = A E_(k-1) for k = 1..K, final E = mean(E_0 .. E_K), score = e_u . e_i.
// Loss: BPR with one sampled negative per positive, plus L2 on the batch's ego
// (layer-0) embeddings: reg / 2 (|e0_u|^2 + |e0_i|^2 + |e0_j|^2), as in the paper's code.
//
// Multi-rank: every rank holds the whole graph and propagates it redundantly
// (Gowalla's graph is 1.6M entries: replicating it costs less than exchanging
// boundary rows every layer); each rank's loss covers its share of the global
// batch. E_0 is one dense parameter: through K hops nearly every row receives
// a gradient, so it is all-reduced densely, not as sparse rows.
#include <algorithm>
#include <cmath>

#include "recforge/autograd/ops.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::lightgcn {
namespace {

class LightGcnModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("LightGCN (He et al. 2020): propagation over the normalised user-item graph, BPR");
    s.add_int("dim", 64, "embedding width", 1, 4096)
        .add_int("layers", 3, "propagation layers K", 0, 16)
        .add_float("reg", 1e-4, "L2 weight on the batch's layer-0 embeddings", 0.0)
        .add_float("init_std", 0.1, "standard deviation of the normal initialisation (> 0: factors that start at zero never move)", 0.0);
    return s;
  }

  explicit LightGcnModel(const ConfigNode& c)
      : dim_(c.get_int("dim")),
        layers_(c.get_int("layers")),
        reg_(static_cast<float>(c.get_double("reg"))),
        init_std_(static_cast<float>(c.get_double("init_std"))) {
    require_positive_init_std(c);
  }

  std::string_view type() const override { return "lightgcn"; }
  std::vector<Parameter*> parameters() override { return {embeddings_.get()}; }
  StepStats train_step(const TrainBatch& batch) override;
  bool embeddings(Tensor& users, Tensor& items) override;

 protected:
  void build_impl(const ModelContext& ctx) override;

 private:
  // mean(E_0 .. E_K) from the layer-0 value e0.
  ag::Var propagate(const ag::Var& e0) const;
  Tensor on_device(const std::vector<std::int32_t>& v) const {
    const Resources& res = *context().resources;
    return Tensor::from_vector(v).to(res.device(), res.stream());
  }

  std::int64_t dim_, layers_;
  float reg_, init_std_;
  std::int32_t users_ = 0, items_ = 0;
  std::unique_ptr<Parameter> embeddings_;  // (users + items, dim): users first
  ag::SparseMatrix graph_;
  data::Csr positives_;
  std::unique_ptr<data::NegativeSampler> sampler_;
};

void LightGcnModel::build_impl(const ModelContext& ctx) {
  const Resources& res = *ctx.resources;
  users_ = ctx.dataset ? ctx.dataset->num_users() : ctx.num_users;
  items_ = ctx.dataset ? ctx.dataset->num_items() : ctx.num_items;
  const std::int64_t nodes = static_cast<std::int64_t>(users_) + items_;
  Tensor e = Tensor::empty({nodes, dim_}, DType::kF32, res.device(), res.stream());
  kernels::fill_normal(res, e, 0.0f, init_std_, ctx.seed, rng_stream(RngPurpose::kInit, 0));
  embeddings_ = std::make_unique<Parameter>("lightgcn.embeddings", e, Parameter::Kind::kDense);
  if (!ctx.dataset) return;  // serving: the checkpoint's embeddings are enough

  const data::Dataset& d = *ctx.dataset;
  positives_ = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, users_);
  // Unique pairs (duplicates would double an edge's weight).
  std::vector<std::int64_t> degree(static_cast<std::size_t>(nodes), 0);
  for (std::int32_t u = 0; u < users_; ++u) {
    for (std::int64_t k = positives_.offsets[u]; k < positives_.offsets[u + 1]; ++k) {
      if (k > positives_.offsets[u] && positives_.col[k] == positives_.col[k - 1]) continue;
      ++degree[static_cast<std::size_t>(u)];
      ++degree[static_cast<std::size_t>(users_ + positives_.col[static_cast<std::size_t>(k)])];
    }
  }
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(nodes) + 1, 0);
  for (std::int64_t n = 0; n < nodes; ++n) offsets[static_cast<std::size_t>(n) + 1] = offsets[static_cast<std::size_t>(n)] + degree[static_cast<std::size_t>(n)];
  std::vector<std::int32_t> columns(static_cast<std::size_t>(offsets.back()));
  std::vector<float> values(columns.size());
  std::vector<std::int64_t> next(offsets.begin(), offsets.end() - 1);
  const auto weight = [&](std::int64_t a, std::int64_t b) {
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(degree[static_cast<std::size_t>(a)]) *
                                              static_cast<double>(degree[static_cast<std::size_t>(b)])));
  };
  // User rows list items in increasing order; item rows list users in
  // increasing order because users are visited in order: columns stay sorted.
  for (std::int32_t u = 0; u < users_; ++u) {
    for (std::int64_t k = positives_.offsets[u]; k < positives_.offsets[u + 1]; ++k) {
      if (k > positives_.offsets[u] && positives_.col[k] == positives_.col[k - 1]) continue;
      const std::int64_t item_node = users_ + positives_.col[static_cast<std::size_t>(k)];
      const float w = weight(u, item_node);
      const auto at_user = static_cast<std::size_t>(next[static_cast<std::size_t>(u)]++);
      columns[at_user] = static_cast<std::int32_t>(item_node);
      values[at_user] = w;
      const auto at_item = static_cast<std::size_t>(next[static_cast<std::size_t>(item_node)]++);
      columns[at_item] = u;
      values[at_item] = w;
    }
  }
  graph_.rows = graph_.cols = nodes;
  graph_.offsets = Tensor::from_vector(offsets).to(res.device(), res.stream());
  graph_.columns = Tensor::from_vector(columns).to(res.device(), res.stream());
  graph_.values = Tensor::from_vector(values).to(res.device(), res.stream());

  std::vector<std::int64_t> counts(static_cast<std::size_t>(items_), 0);
  for (std::int32_t i : d.train.item) ++counts[static_cast<std::size_t>(i)];
  sampler_ = std::make_unique<data::NegativeSampler>(items_, data::NegativeSampler::Distribution::kUniform,
                                                     &positives_, counts);
}

ag::Var LightGcnModel::propagate(const ag::Var& e0) const {
  ag::Var layer = e0, total = e0;
  for (std::int64_t k = 0; k < layers_; ++k) {
    layer = ag::spmm(graph_, graph_, layer);  // A is symmetric: its own transpose
    total = ag::add(total, layer);
  }
  return layers_ == 0 ? total : ag::scale(total, 1.0f / static_cast<float>(layers_ + 1));
}

StepStats LightGcnModel::train_step(const TrainBatch& batch) {
  const data::Dataset& d = *context().dataset;
  const Resources& res = *context().resources;
  const auto n = static_cast<std::int64_t>(batch.rows.size());
  std::vector<std::int32_t> users(static_cast<std::size_t>(n)), items(users.size()), negatives(users.size());
  const std::uint64_t stream = rng_stream(RngPurpose::kNegatives, static_cast<std::uint32_t>(batch.epoch));
  for (std::int64_t k = 0; k < n; ++k) {
    const std::uint32_t row = batch.rows[static_cast<std::size_t>(k)];
    const auto at = static_cast<std::size_t>(k);
    users[at] = d.train.user[row];
    items[at] = users_ + d.train.item[row];  // graph node ids
    negatives[at] = users_ + sampler_->sample(users[at], context().seed, stream, row);
  }
  const Tensor u_ids = on_device(users), i_ids = on_device(items), j_ids = on_device(negatives);
  ag::Graph g(res);
  const ag::Var e0 = g.parameter(*embeddings_);
  const ag::Var e = propagate(e0);
  const ag::Var u = ag::gather_rows(e, u_ids);
  const ag::Var margin = ag::sub(ag::rowwise_dot(u, ag::gather_rows(e, i_ids)), ag::rowwise_dot(u, ag::gather_rows(e, j_ids)));
  ag::Var loss = ag::scale(ag::sum(ag::log_sigmoid(margin)), -1.0f);
  if (reg_ > 0.0f) {
    const ag::Var ego = ag::concat_columns({ag::gather_rows(e0, u_ids), ag::gather_rows(e0, i_ids), ag::gather_rows(e0, j_ids)});
    loss = ag::add(loss, ag::scale(ag::sum(ag::mul(ego, ego)), 0.5f * reg_));
  }
  g.backward(loss, 1.0f / static_cast<float>(batch.global_rows));
  return {.examples = n, .loss = loss.value()};  // the trainer reads the loss with its checks
}

bool LightGcnModel::embeddings(Tensor& users, Tensor& items) {
  const Resources& res = *context().resources;
  Tensor e;
  if (graph_.offsets.defined() && graph_.rows > 0) {
    ag::Graph g(res);
    g.set_training(false);
    e = propagate(g.constant(embeddings_->value())).value().to(Device::cpu(), res.stream());
  } else {
    e = embeddings_->value().to(Device::cpu(), res.stream());  // serving build: no graph
  }
  res.synchronize();
  users = e.slice_rows(0, users_).contiguous();
  items = e.slice_rows(users_, users_ + items_).contiguous();
  return true;
}

}  // namespace
}  // namespace recforge::lightgcn

RF_REGISTER_MODEL("lightgcn", recforge::lightgcn::LightGcnModel);
