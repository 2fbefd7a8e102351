// NCF (He et al. 2017): GMF, MLP and NeuMF on implicit feedback, trained with
// binary cross-entropy on each positive and `negatives` sampled negatives.
//   GMF    p_u * q_i (elementwise)                   -> h^T . -> logit
//   MLP    [p'_u, q'_i] -> Linear/ReLU tower          -> h^T . -> logit
//   NeuMF  [GMF vector, MLP tower output]             -> h^T . -> logit
// Separate embeddings for the GMF and MLP parts, as in the paper. Only the
// forward pass is written here: gradients come from the autograd, embedding
// gradients as sparse rows (lazy Adam updates only the rows a batch touched).
// Sizes follow the paper's code: with `factors` f and `layers` L, the MLP's
// embeddings have f 2^(L-1) columns and its tower narrows 2^L f -> ... -> f.
// NeuMF can start from pre-trained GMF and MLP runs (the paper's section
// 3.4.1): their embeddings and tower as they are, the output layer
// [alpha h_gmf, (1 - alpha) h_mlp] with bias alpha b_gmf + (1 - alpha) b_mlp.
#include <cmath>
#include <optional>

#include "recforge/autograd/ops.hpp"
#include "recforge/checkpoint/pretrained.hpp"
#include "recforge/comm/communicator.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/model/model.hpp"
#include "recforge/nn/layers.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge::ncf {
namespace {

class NcfModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("Neural collaborative filtering (He et al. 2017): GMF, MLP or NeuMF with BCE on sampled negatives");
    s.add_string("variant", "neumf", "gmf, mlp or neumf (both, fused in the last layer)", {"gmf", "mlp", "neumf"})
        .add_int("factors", 8, "predictive factors f: the GMF dimension and the MLP tower's last width", 1, 4096)
        .add_int("layers", 3, "MLP layers L (embeddings f 2^(L-1) wide, tower 2^L f -> ... -> f)", 1, 8)
        .add_float("dropout", 0.0, "dropout after each MLP layer", 0.0, 0.95)
        .add_float("init_std", 0.01, "standard deviation of the embeddings' normal initialisation", 0.0)
        .add_int("negatives", 4, "sampled negatives per positive (the paper: 4)", 1, 1000)
        .add_string("negative_distribution", "uniform", "how negatives are drawn", {"uniform", "popularity"})
        .add_int("score_batch", 65536, "(user, item) pairs scored per forward pass at evaluation", 1, 1 << 24)
        .add_optional_string("pretrained_gmf", "neumf: start from a GMF run's newest checkpoint (its checkpoint "
                                               "directory; same data, factors); needs pretrained_mlp")
        .add_optional_string("pretrained_mlp", "neumf: start from an MLP run's newest checkpoint (same data, factors, "
                                               "layers); needs pretrained_gmf")
        .add_float("pretrained_alpha", 0.5, "neumf from pre-trained parts: output layer [alpha h_gmf, (1 - alpha) h_mlp]",
                   0.0, 1.0);
    return s;
  }

  explicit NcfModel(const ConfigNode& c)
      : gmf_(c.get_string("variant") != "mlp"),
        mlp_(c.get_string("variant") != "gmf"),
        factors_(c.get_int("factors")),
        layers_(c.get_int("layers")),
        dropout_(static_cast<float>(c.get_double("dropout"))),
        init_std_(static_cast<float>(c.get_double("init_std"))),
        negatives_(c.get_int("negatives")),
        popularity_(c.get_string("negative_distribution") == "popularity"),
        score_batch_(c.get_int("score_batch")),
        pretrained_alpha_(static_cast<float>(c.get_double("pretrained_alpha"))) {
    const bool gmf = !c["pretrained_gmf"].is_null(), mlp = !c["pretrained_mlp"].is_null();
    RF_CHECK_KIND(ErrorKind::kConfig, gmf == mlp, c.where(),
                  ": NeuMF pre-training needs both pretrained_gmf and pretrained_mlp");
    RF_CHECK_KIND(ErrorKind::kConfig, !gmf || (gmf_ && mlp_), c["pretrained_gmf"].where(),
                  ": pretrained_gmf and pretrained_mlp initialise variant neumf only");
    if (gmf) pretrained_ = {c.get_string("pretrained_gmf"), c.get_string("pretrained_mlp")};
  }

  std::string_view type() const override { return "ncf"; }
  std::vector<Parameter*> parameters() override { return params_; }
  StepStats train_step(const TrainBatch& batch) override;
  bool score_pairs(std::span<const std::int32_t> users, std::span<const std::int32_t> items,
                   std::span<float> out) override;
  void score(std::span<const std::int32_t> users, TensorView scores) override;

 protected:
  void build_impl(const ModelContext& ctx) override;

 private:
  // NeuMF's parameters from the GMF and MLP checkpoints (pretrained_*).
  void load_pretrained(const data::Dataset& dataset);
  // Logits (n) of (users[k], items[k]); dropout keyed by `step` when training.
  ag::Var forward(ag::Graph& g, const Tensor& users, const Tensor& items, std::uint64_t step,
                  std::uint64_t first_row = 0) const;
  Tensor on_device(const std::vector<std::int32_t>& v) const {
    const Resources& res = *context().resources;
    return Tensor::from_vector(v).to(res.device(), res.stream());
  }

  bool gmf_, mlp_;
  std::int64_t factors_, layers_;
  float dropout_, init_std_;
  std::int64_t negatives_;
  bool popularity_;
  std::int64_t score_batch_;
  float pretrained_alpha_;
  std::optional<std::pair<std::string, std::string>> pretrained_;  // GMF and MLP checkpoint directories
  std::unique_ptr<nn::Embedding> gmf_users_, gmf_items_, mlp_users_, mlp_items_;
  std::unique_ptr<nn::Mlp> tower_;
  std::unique_ptr<nn::Linear> predict_;
  std::vector<Parameter*> params_;
  data::Csr positives_;
  std::unique_ptr<data::NegativeSampler> sampler_;
};

void NcfModel::build_impl(const ModelContext& ctx) {
  const std::int32_t users = ctx.dataset ? ctx.dataset->num_users() : ctx.num_users;
  const std::int32_t items = ctx.dataset ? ctx.dataset->num_items() : ctx.num_items;
  nn::Init init{ctx.resources, ctx.seed, 0};
  const auto keep = [&](const nn::Module& m) {
    for (Parameter* p : m.parameters()) params_.push_back(p);
  };
  if (gmf_) {
    gmf_users_ = std::make_unique<nn::Embedding>("ncf.gmf.users", users, factors_, init_std_, init);
    gmf_items_ = std::make_unique<nn::Embedding>("ncf.gmf.items", items, factors_, init_std_, init);
    keep(*gmf_users_);
    keep(*gmf_items_);
  }
  if (mlp_) {
    const std::int64_t width = factors_ << (layers_ - 1);
    mlp_users_ = std::make_unique<nn::Embedding>("ncf.mlp.users", users, width, init_std_, init);
    mlp_items_ = std::make_unique<nn::Embedding>("ncf.mlp.items", items, width, init_std_, init);
    std::vector<std::int64_t> dims;
    for (std::int64_t l = layers_; l >= 0; --l) dims.push_back(factors_ << l);
    tower_ = std::make_unique<nn::Mlp>("ncf.mlp.tower", dims, kernels::Activation::kRelu, dropout_, true, init);
    keep(*mlp_users_);
    keep(*mlp_items_);
    keep(*tower_);
  }
  predict_ = std::make_unique<nn::Linear>("ncf.predict", (gmf_ ? factors_ : 0) + (mlp_ ? factors_ : 0), 1, true, init);
  keep(*predict_);
  if (ctx.dataset) {
    const data::Dataset& d = *ctx.dataset;
    positives_ = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, d.num_users());
    std::vector<std::int64_t> counts(static_cast<std::size_t>(d.num_items()), 0);
    for (std::int32_t i : d.train.item) ++counts[static_cast<std::size_t>(i)];
    sampler_ = std::make_unique<data::NegativeSampler>(
        d.num_items(), popularity_ ? data::NegativeSampler::Distribution::kPopularity
                                   : data::NegativeSampler::Distribution::kUniform,
        &positives_, counts, 0.75);
  }
  if (pretrained_) {
    RF_CHECK_KIND(ErrorKind::kConfig, ctx.dataset != nullptr, "NeuMF pre-training needs the dataset");
    load_pretrained(*ctx.dataset);
  }
}

void NcfModel::load_pretrained(const data::Dataset& dataset) {
  const Resources& res = *context().resources;
  const auto open = [&](const std::string& dir, const std::string& variant) {
    checkpoint::Pretrained p = checkpoint::open_pretrained(dir, "ncf", dataset, "model.pretrained_" + variant);
    const ConfigNode& model = p.config.section("model");
    RF_CHECK_KIND(ErrorKind::kConfig, model.get_string("variant") == variant, "model.pretrained_", variant, ": ",
                  p.reader.label(), " is an NCF '", model.get_string("variant"), "' run, expected '", variant, "'");
    return p;
  };
  const checkpoint::Pretrained gmf = open(pretrained_->first, "gmf");
  const checkpoint::Pretrained mlp = open(pretrained_->second, "mlp");
  std::vector<float> weight, bias(1, 0.0f);
  for (Parameter* p : params_) {
    const std::string& name = p->name();
    if (name.starts_with("ncf.predict.")) continue;
    const checkpoint::CheckpointReader& from = name.starts_with("ncf.gmf.") ? gmf.reader : mlp.reader;
    p->value().copy_from(from.parameter(name, p->value().shape()).value, res.stream());
  }
  // Output layer: GMF's rows then MLP's (the order forward() concatenates them).
  for (const auto* part : {&gmf, &mlp}) {
    const float share = part == &gmf ? pretrained_alpha_ : 1.0f - pretrained_alpha_;
    for (float w : part->reader.parameter("ncf.predict.weight", Shape{factors_, 1}).value.to_vector<float>()) {
      weight.push_back(share * w);
    }
    bias[0] += share * part->reader.parameter("ncf.predict.bias", Shape{1}).value.to_vector<float>()[0];
  }
  for (Parameter* p : predict_->parameters()) {
    const std::vector<float>& v = p->name().ends_with(".weight") ? weight : bias;
    p->value().copy_from(Tensor::from_vector(v, p->value().shape()).to(res.device(), res.stream()), res.stream());
  }
}

ag::Var NcfModel::forward(ag::Graph& g, const Tensor& users, const Tensor& items, std::uint64_t step,
                          std::uint64_t first_row) const {
  std::vector<ag::Var> parts;
  if (gmf_) parts.push_back(ag::mul(gmf_users_->forward(g, users), gmf_items_->forward(g, items)));
  if (mlp_) {
    const ag::Var x = ag::concat_columns({mlp_users_->forward(g, users), mlp_items_->forward(g, items)});
    // Keys differ by step; offsets are rows of the global batch (rank-invariant).
    const kernels::DropoutKey key{step_key(context().seed, step), rng_stream(RngPurpose::kDropout), first_row};
    parts.push_back(tower_->forward(g, x, key));
  }
  const ag::Var h = parts.size() == 1 ? parts.front() : ag::concat_columns(parts);
  const ag::Var logits = predict_->forward(g, h);
  return ag::reshape(logits, Shape{logits.size(0)});
}

StepStats NcfModel::train_step(const TrainBatch& batch) {
  const data::Dataset& d = *context().dataset;
  const Resources& res = *context().resources;
  const auto n = static_cast<std::int64_t>(batch.rows.size());
  const std::int64_t per = 1 + negatives_;
  // Positive k at k * per, its negatives after it; negatives keyed by (seed,
  // epoch, global row, j), so they do not depend on the rank drawing them.
  std::vector<std::int32_t> users(static_cast<std::size_t>(n * per)), items(users.size());
  std::vector<float> labels(users.size(), 0.0f);
  const std::uint64_t stream = rng_stream(RngPurpose::kNegatives, static_cast<std::uint32_t>(batch.epoch));
  for (std::int64_t k = 0; k < n; ++k) {
    const std::uint32_t row = batch.rows[static_cast<std::size_t>(k)];
    const std::int32_t u = d.train.user[row];
    for (std::int64_t j = 0; j < per; ++j) {
      const auto at = static_cast<std::size_t>(k * per + j);
      users[at] = u;
      items[at] = j == 0 ? d.train.item[row]
                         : sampler_->sample(u, context().seed, stream,
                                            static_cast<std::uint64_t>(row) * static_cast<std::uint64_t>(per) + j);
      labels[at] = j == 0 ? 1.0f : 0.0f;
    }
  }
  // This rank's first example in the global batch (ranks take slices in
  // order): only the dropout masks need it.
  std::uint64_t first_row = 0;
  if (mlp_ && dropout_ > 0.0f && context().comm->world_size() > 1) {
    const std::vector<std::int64_t> counts = context().comm->allgather_int(n * per);
    for (int r = 0; r < context().comm->rank(); ++r) first_row += static_cast<std::uint64_t>(counts[static_cast<std::size_t>(r)]);
  }
  ag::Graph g(res);
  const Tensor targets = Tensor::from_vector(labels).to(res.device(), res.stream());
  const ag::Var losses = ag::bce_with_logits(
      forward(g, on_device(users), on_device(items), static_cast<std::uint64_t>(batch.global_step), first_row), targets);
  const ag::Var loss = ag::sum(losses);
  // The mean over the global batch's examples (positives and negatives), as a
  // BCE-with-logits mean in PyTorch.
  g.backward(loss, 1.0f / static_cast<float>(batch.global_rows * per));
  return {.examples = n * per, .loss = loss.value()};  // the trainer reads the loss with its checks
}

bool NcfModel::score_pairs(std::span<const std::int32_t> users, std::span<const std::int32_t> items,
                           std::span<float> out) {
  const Resources& res = *context().resources;
  for (std::size_t begin = 0; begin < users.size(); begin += static_cast<std::size_t>(score_batch_)) {
    const std::size_t end = std::min(users.size(), begin + static_cast<std::size_t>(score_batch_));
    ag::Graph g(res);
    g.set_training(false);
    const std::vector<std::int32_t> u(users.begin() + begin, users.begin() + end), i(items.begin() + begin, items.begin() + end);
    const Tensor logits = forward(g, on_device(u), on_device(i), 0).value().to(Device::cpu(), res.stream());
    res.synchronize();
    std::copy_n(logits.data_as<float>(), end - begin, out.begin() + begin);
  }
  return true;
}

void NcfModel::score(std::span<const std::int32_t> users, TensorView scores) {
  const std::int64_t items = scores.shape[1];
  std::vector<std::int32_t> pair_users, pair_items;
  std::vector<float> values(static_cast<std::size_t>(users.size()) * static_cast<std::size_t>(items));
  pair_users.reserve(values.size());
  pair_items.reserve(values.size());
  for (std::int32_t u : users) {
    for (std::int64_t i = 0; i < items; ++i) {
      pair_users.push_back(u);
      pair_items.push_back(static_cast<std::int32_t>(i));
    }
  }
  score_pairs(pair_users, pair_items, values);
  const Tensor host = Tensor::from_vector(values, {static_cast<std::int64_t>(users.size()), items});
  Tensor::wrap(scores).copy_from(host.to(scores.device, context().resources->stream()), context().resources->stream());
}

}  // namespace
}  // namespace recforge::ncf

RF_REGISTER_MODEL("ncf", recforge::ncf::NcfModel);
