// The plugin template: a complete, small model to copy. User and item
// embeddings trained by mini-batches with the BPR loss, one uniform negative
// per positive:
//   loss = -sum_k log sigmoid(u_k . v_pos(k) - u_k . v_neg(k)),   score(u, i) = u . v_i
// built from the framework's autograd ops, which carry CPU and CUDA kernels:
// the model needs none of its own (when yours does, see plugins/mf/mf_kernels*
// for the header + CPU reference + CUDA trio). Copy the folder, rename the
// class and kName, and change the model (framework/README.md, "Adding a model").
#include <memory>
#include <vector>

#include "recforge/autograd/ops.hpp"
#include "recforge/config/schema.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/resources.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/data/sampler.hpp"
#include "recforge/model/model.hpp"
#include "recforge/nn/layers.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace {

namespace ag = recforge::ag;
namespace data = recforge::data;
namespace nn = recforge::nn;
using recforge::Tensor;

// The registered name: type() returns it, checkpoints record it and serving
// looks the model up by it. Parameter names start with it.
constexpr const char* kName = "template";

class TemplateModel final : public recforge::Model {
 public:
  // Every key the model reads, with type, default, range and one line of help.
  static recforge::Schema config_schema() {
    recforge::Schema s("Template model: BPR matrix factorisation, a starting point for new plugins");
    s.add_int("dim", 16, "embedding dimension", 1, 4096)
        .add_float("init_std", 0.1, "standard deviation of the initial embeddings", 0.0);
    return s;
  }

  explicit TemplateModel(const recforge::ConfigNode& config)
      : dim_(config.get_int("dim")), init_std_(static_cast<float>(config.get_double("init_std"))) {}
  std::string_view type() const override { return kName; }
  std::vector<recforge::Parameter*> parameters() override { return {&users_->table(), &items_->table()}; }

  // This rank's rows of the global batch: the loss and the parameters'
  // gradients (the trainer all-reduces them and applies the optimizer).
  recforge::StepStats train_step(const recforge::TrainBatch& batch) override {
    const data::Dataset& d = *context().dataset;
    const auto n = batch.rows.size();
    std::vector<std::int32_t> users(n), positives(n), negatives(n);
    // Negatives depend on (seed, epoch, row) only: the same on any number of ranks.
    const std::uint64_t stream = recforge::rng_stream(recforge::RngPurpose::kNegatives, static_cast<std::uint32_t>(batch.epoch));
    for (std::size_t k = 0; k < n; ++k) {
      users[k] = d.train.user[batch.rows[k]];
      positives[k] = d.train.item[batch.rows[k]];
      negatives[k] = sampler_->sample(users[k], context().seed, stream, batch.rows[k]);
    }
    ag::Graph g(*context().resources);
    const ag::Var u = users_->forward(g, on_device(users));
    const ag::Var margin = ag::sub(ag::rowwise_dot(u, items_->forward(g, on_device(positives))),
                                   ag::rowwise_dot(u, items_->forward(g, on_device(negatives))));
    const ag::Var loss = ag::sum(ag::scale(ag::log_sigmoid(margin), -1.0f));
    // The mean over the global batch, so any number of ranks takes the same step.
    g.backward(loss, 1.0f / static_cast<float>(batch.global_rows));
    return {.examples = static_cast<std::int64_t>(n), .loss = loss.value()};  // read by the trainer
  }

  // Evaluation and serving score users by dot products of these tables.
  bool embeddings(Tensor& users, Tensor& items) override {
    users = users_->table().value();
    items = items_->table().value();
    return true;
  }

 protected:
  // Parameters on the run's device, identical on every rank for one seed.
  // Serving builds the model without data (context.dataset null), from sizes.
  void build_impl(const recforge::ModelContext& context) override {
    const data::Dataset* d = context.dataset;
    nn::Init init{context.resources, context.seed, 0};
    users_ = std::make_unique<nn::Embedding>(std::string(kName) + ".users", d ? d->num_users() : context.num_users,
                                             dim_, init_std_, init);
    items_ = std::make_unique<nn::Embedding>(std::string(kName) + ".items", d ? d->num_items() : context.num_items,
                                             dim_, init_std_, init);
    if (d == nullptr) return;
    positives_ = data::user_item_csr(data::InteractionTable{d->train.user, d->train.item, {}, {}}, d->num_users());
    sampler_ = std::make_unique<data::NegativeSampler>(d->num_items(), data::NegativeSampler::Distribution::kUniform,
                                                       &positives_);
  }

 private:
  Tensor on_device(const std::vector<std::int32_t>& ids) const {
    const recforge::Resources& res = *context().resources;
    return Tensor::from_vector(ids).to(res.device(), res.stream());
  }

  std::int64_t dim_;
  float init_std_;
  std::unique_ptr<nn::Embedding> users_, items_;
  data::Csr positives_;  // each user's training items, which negatives avoid
  std::unique_ptr<data::NegativeSampler> sampler_;
};

}  // namespace

RF_REGISTER_MODEL(kName, TemplateModel);
