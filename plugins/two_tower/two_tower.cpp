// Two-tower retrieval model: a user tower and an item tower (ID embeddings,
// optionally followed by an MLP), L2-normalised outputs, score = u . v / tau.
//   softmax  in-batch sampled softmax: every other positive item of the global
//            batch is a negative; logits corrected by -log Q(item) (Yi et al.
//            2019: in-batch negatives are drawn by popularity, the correction
//            removes that bias); item vectors are all-gathered across ranks
//            with their gradients routed back, so N ranks with batch B train
//            like 1 rank with batch N B.
//   bpr      -log sigmoid(s(u, i) - s(u, j)) with one sampled negative j.
// Item features (data.item_features, e.g. genres): the item tower's input is
// the item's ID embedding plus the mean of its features' embeddings, so items
// with few interactions borrow from the items that share their genres.
// Evaluation uses the exported embeddings (full ranking by dot products).
#include <cmath>

#include "recforge/autograd/collectives.hpp"
#include "recforge/autograd/ops.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/item_features.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/model/model.hpp"
#include "recforge/nn/layers.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::two_tower {
namespace {

// Layers a tower may have (its dropout streams lie this far apart).
constexpr std::uint32_t kMaxLayers = 64;

// Rows per rank in this step's global batch (one exchange, shared by the
// dropout offsets and the gathered negatives); {n} on one rank.
std::vector<std::int64_t> rows_per_rank(Communicator& comm, std::int64_t n) {
  return comm.world_size() == 1 ? std::vector<std::int64_t>{n} : comm.allgather_int(n);
}

// The index of this rank's first row in the global batch (BatchSchedule cuts
// it in rank order).
std::int64_t first_row(const std::vector<std::int64_t>& counts, int rank) {
  std::int64_t first = 0;
  for (int r = 0; r < rank; ++r) first += counts[static_cast<std::size_t>(r)];
  return first;
}

class TwoTowerModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("Two-tower retrieval: ID embeddings and MLP towers, in-batch sampled softmax with log-Q correction");
    s.add_int("dim", 64, "ID embedding width", 1, 4096)
        .add_int_list("tower", {}, "MLP widths after the embedding in each tower (empty: the embedding is the output; at most 63)", 1, 4096)
        .add_string("activation", "relu", "tower activation", {"relu", "gelu", "tanh"})
        .add_float("dropout", 0.0, "dropout between tower layers (after each but the output layer)", 0.0, 0.95)
        .add_bool("normalize", true, "L2-normalise both towers' outputs (cosine scores)")
        .add_float("temperature", 0.1, "softmax temperature tau (scores u . v / tau)", 1e-4)
        .add_string("loss", "softmax", "softmax: in-batch sampled softmax; bpr: one sampled negative", {"softmax", "bpr"})
        .add_bool("log_q", true, "softmax: subtract log of each in-batch item's sampling probability")
        .add_bool("gather_negatives", true, "softmax: share in-batch negatives across ranks (all-gather)")
        .add_float("init_std", 0.1, "standard deviation of the ID embeddings' normal initialisation (> 0 without a tower)", 0.0)
        .add_string("item_features", "auto",
                    "add the mean embedding of each item's features (data.item_features, e.g. genres) to its ID "
                    "embedding: auto (when the data has them), on (required), off",
                    {"auto", "on", "off"});
    return s;
  }

  explicit TwoTowerModel(const ConfigNode& c)
      : dim_(c.get_int("dim")),
        tower_(c["tower"].as_int_list()),
        dropout_(static_cast<float>(c.get_double("dropout"))),
        normalize_(c.get_bool("normalize")),
        temperature_(static_cast<float>(c.get_double("temperature"))),
        softmax_(c.get_string("loss") == "softmax"),
        log_q_(c.get_bool("log_q")),
        gather_(c.get_bool("gather_negatives")),
        init_std_(static_cast<float>(c.get_double("init_std"))),
        features_mode_(c.get_string("item_features")) {
    RF_CHECK_KIND(ErrorKind::kConfig, tower_.size() < kMaxLayers, c["tower"].where(), ": model.tower lists ",
                  tower_.size(), " widths; at most ", kMaxLayers - 1);
    // Dropout and the activation act between layers: a tower of one width is
    // one linear layer, and dropout there would be silently ignored.
    RF_CHECK_KIND(ErrorKind::kConfig, dropout_ == 0.0f || tower_.size() >= 2, c["dropout"].where(), ": model.dropout ",
                  dropout_, " has no effect: dropout acts between tower layers, and model.tower lists ", tower_.size(),
                  tower_.size() == 1 ? " width" : " widths", " (give at least two, or dropout 0)");
    if (tower_.empty()) require_positive_init_std(c);  // an MLP's random weights break the symmetry
    const std::string& a = c.get_string("activation");
    activation_ = a == "gelu" ? kernels::Activation::kGelu
                  : a == "tanh" ? kernels::Activation::kTanh
                                : kernels::Activation::kRelu;
  }

  std::string_view type() const override { return "two_tower"; }
  std::vector<Parameter*> parameters() override { return params_; }
  StepStats train_step(const TrainBatch& batch) override;
  bool embeddings(Tensor& users, Tensor& items) override;

 protected:
  void build_impl(const ModelContext& ctx) override;

 private:
  // A tower's input rows through its MLP, normalised.
  ag::Var tower(ag::Graph& g, ag::Var x, const nn::Mlp* mlp, const kernels::DropoutKey& dropout) const;
  ag::Var user_input(ag::Graph& g, const std::vector<std::int32_t>& ids) const {
    return user_ids_->forward(g, on_device(ids));
  }
  ag::Var item_input(ag::Graph& g, const std::vector<std::int32_t>& ids) const;
  Tensor on_device(const std::vector<std::int32_t>& v) const {
    const Resources& res = *context().resources;
    return Tensor::from_vector(v).to(res.device(), res.stream());
  }
  // Every user's or item's tower output (evaluation), in blocks.
  Tensor export_all(bool items, std::int32_t rows) const;

  std::int64_t dim_;
  std::vector<std::int64_t> tower_;
  kernels::Activation activation_ = kernels::Activation::kRelu;
  float dropout_;
  bool normalize_;
  float temperature_;
  bool softmax_, log_q_, gather_;
  float init_std_;
  std::string features_mode_;
  std::unique_ptr<nn::Embedding> user_ids_, item_ids_;
  std::unique_ptr<nn::EmbeddingBag> item_features_;       // null without features
  std::shared_ptr<const data::ItemFeatures> features_;  // items x features (host CSR)
  std::unique_ptr<nn::Mlp> user_mlp_, item_mlp_;
  std::vector<Parameter*> params_;
  std::vector<float> log_q_table_;  // log P(item) under the training distribution
  data::Csr positives_;
  std::unique_ptr<data::NegativeSampler> sampler_;
};

void TwoTowerModel::build_impl(const ModelContext& ctx) {
  const std::int32_t users = ctx.dataset ? ctx.dataset->num_users() : ctx.num_users;
  const std::int32_t items = ctx.dataset ? ctx.dataset->num_items() : ctx.num_items;
  nn::Init init{ctx.resources, ctx.seed, 0};
  user_ids_ = std::make_unique<nn::Embedding>("two_tower.user_ids", users, dim_, init_std_, init);
  item_ids_ = std::make_unique<nn::Embedding>("two_tower.item_ids", items, dim_, init_std_, init);
  for (Parameter* p : user_ids_->parameters()) params_.push_back(p);
  for (Parameter* p : item_ids_->parameters()) params_.push_back(p);
  if (!tower_.empty()) {
    std::vector<std::int64_t> dims = {dim_};
    dims.insert(dims.end(), tower_.begin(), tower_.end());
    user_mlp_ = std::make_unique<nn::Mlp>("two_tower.user_tower", dims, activation_, dropout_, false, init);
    item_mlp_ = std::make_unique<nn::Mlp>("two_tower.item_tower", dims, activation_, dropout_, false, init);
    for (Parameter* p : user_mlp_->parameters()) params_.push_back(p);
    for (Parameter* p : item_mlp_->parameters()) params_.push_back(p);
  }
  const data::ItemFeatures* features = ctx.dataset ? ctx.dataset->item_features.get() : nullptr;
  RF_CHECK_KIND(ErrorKind::kConfig, features_mode_ != "on" || features != nullptr,
                "model.item_features is on but the data has none (set data.item_features.path)");
  if (features != nullptr && features_mode_ != "off") {
    RF_CHECK_KIND(ErrorKind::kData, features->items.rows() == items, features->path, ": features for ",
                  features->items.rows(), " items, the dataset has ", items);
    item_features_ = std::make_unique<nn::EmbeddingBag>("two_tower.item_features", features->num_features(), dim_,
                                                        init_std_, init);
    for (Parameter* p : item_features_->parameters()) params_.push_back(p);
    features_ = ctx.dataset->item_features;
  }
  if (!ctx.dataset) return;
  const data::Dataset& d = *ctx.dataset;
  std::vector<std::int64_t> counts(static_cast<std::size_t>(items), 0);
  for (std::int32_t i : d.train.item) ++counts[static_cast<std::size_t>(i)];
  // A batch's positives follow the training distribution: P(i) = count / total.
  log_q_table_.resize(counts.size());
  const double total = static_cast<double>(std::max<std::int64_t>(1, d.train.size()));
  for (std::size_t i = 0; i < counts.size(); ++i) {
    log_q_table_[i] = static_cast<float>(std::log(std::max<double>(1.0, static_cast<double>(counts[i])) / total));
  }
  if (!softmax_) {
    positives_ = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, d.num_users());
    sampler_ = std::make_unique<data::NegativeSampler>(d.num_items(), data::NegativeSampler::Distribution::kUniform,
                                                       &positives_, counts);
  }
}

ag::Var TwoTowerModel::item_input(ag::Graph& g, const std::vector<std::int32_t>& ids) const {
  const ag::Var x = item_ids_->forward(g, on_device(ids));
  if (!item_features_) return x;
  // The feature bags of these items only (their rows of the item x feature CSR), averaged.
  const data::Csr& all = features_->items;
  std::vector<std::int64_t> offsets = {0};
  std::vector<std::int32_t> columns;
  for (const std::int32_t i : ids) {
    columns.insert(columns.end(), all.col.begin() + all.offsets[i], all.col.begin() + all.offsets[i + 1]);
    offsets.push_back(static_cast<std::int64_t>(columns.size()));
  }
  if (columns.empty()) return x;  // no item here has a feature: every mean is zero
  const nn::Bags bags = nn::mean_bags(*context().resources, offsets, columns, features_->num_features());
  return ag::add(x, item_features_->forward(g, bags));
}

ag::Var TwoTowerModel::tower(ag::Graph& g, ag::Var x, const nn::Mlp* mlp, const kernels::DropoutKey& dropout) const {
  if (mlp) x = mlp->forward(g, x, dropout);
  return normalize_ ? ag::l2_normalize_rows(x) : x;
}

StepStats TwoTowerModel::train_step(const TrainBatch& batch) {
  const data::Dataset& d = *context().dataset;
  const Resources& res = *context().resources;
  Communicator& comm = *context().comm;
  const auto n = static_cast<std::int64_t>(batch.rows.size());
  std::vector<std::int32_t> users(static_cast<std::size_t>(n)), items(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    users[static_cast<std::size_t>(k)] = d.train.user[batch.rows[static_cast<std::size_t>(k)]];
    items[static_cast<std::size_t>(k)] = d.train.item[batch.rows[static_cast<std::size_t>(k)]];
  }
  ag::Graph g(res);
  // Dropout rows are keyed by their index in the global batch (rank-invariant).
  const std::vector<std::int64_t> counts = rows_per_rank(comm, n);
  const std::int64_t offset = first_row(counts, comm.rank());
  // Each tower's layer k draws from its stream + k (nn::Mlp): towers kMaxLayers
  // apart, so that no two layers share masks (1 apart, the user tower's second
  // layer drew the item tower's first layer's masks, row for row).
  const std::uint64_t key = step_key(context().seed, static_cast<std::uint64_t>(batch.global_step));
  const auto dropout_of = [&](std::uint32_t tower_index) {
    return kernels::DropoutKey{key, rng_stream(RngPurpose::kDropout, tower_index * kMaxLayers),
                               static_cast<std::uint64_t>(offset)};
  };
  const ag::Var u = tower(g, user_input(g, users), user_mlp_.get(), dropout_of(0));
  const ag::Var v = tower(g, item_input(g, items), item_mlp_.get(), dropout_of(1));
  ag::Var losses;
  if (softmax_) {
    // Negatives: the positives of the whole global batch (this rank's rows
    // first in rank order), so row k's target is its own item's column.
    const bool gather = gather_ && comm.world_size() > 1;
    const ag::Var all_items = gather ? ag::allgather_rows(v, comm) : v;
    std::vector<std::int32_t> all_ids = items;
    if (gather && log_q_) {
      // Only the log-Q correction needs the columns' ids, on the host: they
      // are gathered there (NCCL sends host tensors through its MPI
      // bootstrap), without waiting for the device.
      Tensor gathered = Tensor::empty({all_items.size(0)}, DType::kI32);
      comm.allgatherv(Tensor::from_vector(items), gathered, counts);
      all_ids = gathered.to_vector<std::int32_t>();
    }
    ag::Var logits = ag::matmul(u, all_items, true, 1.0f / temperature_);
    if (log_q_) {
      std::vector<float> correction(all_ids.size());
      for (std::size_t j = 0; j < all_ids.size(); ++j) correction[j] = -log_q_table_[static_cast<std::size_t>(all_ids[j])];
      logits = ag::bias_add(logits, g.constant(Tensor::from_vector(correction).to(res.device(), res.stream())));
    }
    std::vector<std::int32_t> targets(static_cast<std::size_t>(n));
    const std::int64_t column = gather ? offset : 0;  // this rank's items' first column
    for (std::int64_t k = 0; k < n; ++k) targets[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(column + k);
    losses = ag::softmax_cross_entropy(logits, on_device(targets));
  } else {
    std::vector<std::int32_t> negatives(static_cast<std::size_t>(n));
    const std::uint64_t stream = rng_stream(RngPurpose::kNegatives, static_cast<std::uint32_t>(batch.epoch));
    for (std::int64_t k = 0; k < n; ++k) {
      negatives[static_cast<std::size_t>(k)] = sampler_->sample(users[static_cast<std::size_t>(k)], context().seed,
                                                                stream, batch.rows[static_cast<std::size_t>(k)]);
    }
    const ag::Var vj = tower(g, item_input(g, negatives), item_mlp_.get(), dropout_of(2));
    const ag::Var margin = ag::scale(ag::sub(ag::rowwise_dot(u, v), ag::rowwise_dot(u, vj)), 1.0f / temperature_);
    losses = ag::scale(ag::log_sigmoid(margin), -1.0f);
  }
  const ag::Var loss = ag::sum(losses);
  g.backward(loss, 1.0f / static_cast<float>(batch.global_rows));
  return {.examples = n, .loss = loss.value()};  // the trainer reads the loss with its checks
}

Tensor TwoTowerModel::export_all(bool items, std::int32_t rows) const {
  const Resources& res = *context().resources;
  const nn::Mlp* mlp = items ? item_mlp_.get() : user_mlp_.get();
  const std::int64_t width = mlp ? mlp->out() : dim_;
  Tensor out = Tensor::empty({rows, width}, DType::kF32);
  constexpr std::int32_t kBlock = 8192;
  for (std::int32_t begin = 0; begin < rows; begin += kBlock) {
    const std::int32_t end = std::min(rows, begin + kBlock);
    std::vector<std::int32_t> block(static_cast<std::size_t>(end - begin));
    for (std::int32_t r = begin; r < end; ++r) block[static_cast<std::size_t>(r - begin)] = r;
    ag::Graph g(res);
    g.set_training(false);
    const Tensor values = tower(g, items ? item_input(g, block) : user_input(g, block), mlp, kernels::DropoutKey{})
                              .value()
                              .to(Device::cpu(), res.stream());
    res.synchronize();
    out.slice_rows(begin, end).copy_from(values);
  }
  return out;
}

bool TwoTowerModel::embeddings(Tensor& users, Tensor& items) {
  users = export_all(false, static_cast<std::int32_t>(user_ids_->table().value().size(0)));
  items = export_all(true, static_cast<std::int32_t>(item_ids_->table().value().size(0)));
  return true;
}

}  // namespace
}  // namespace recforge::two_tower

RF_REGISTER_MODEL("two_tower", recforge::two_tower::TwoTowerModel);
