// The plugin template: the smallest model recforge accepts, with one embedding
// table trained by mini-batches. Copy the folder, rename `TemplateModel` and
// "template", and fill in the model (see framework/README.md, "Adding a model").
#include "recforge/config/schema.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace {

class TemplateModel final : public recforge::Model {
 public:
  // Every key the model reads, with type, default, range and one line of help.
  static recforge::Schema config_schema() {
    recforge::Schema s("Template model: a starting point for new plugins");
    s.add_int("dim", 16, "embedding dimension", 1, 4096);
    return s;
  }

  explicit TemplateModel(const recforge::ConfigNode& config) : dim_(config.get_int("dim")) {}
  std::string_view type() const override { return "template"; }
  std::vector<recforge::Parameter*> parameters() override { return {&items_}; }

  // Evaluation through embeddings: every user shares the item table's mean here.
  bool embeddings(recforge::Tensor& users, recforge::Tensor& items) override {
    items = items_.value();
    users = recforge::Tensor::zeros({context().dataset->num_users(), dim_}, recforge::DType::kF32);
    return true;
  }

 protected:
  void build_impl(const recforge::ModelContext& context) override {
    recforge::Tensor table = recforge::Tensor::empty({context.dataset->num_items(), dim_}, recforge::DType::kF32);
    recforge::kernels::fill_normal(*context.resources, table, 0.0f, 0.1f, context.seed,
                                   recforge::rng_stream(recforge::RngPurpose::kInit, 0));
    items_ = recforge::Parameter("template.items", table, recforge::Parameter::Kind::kEmbedding);
  }

 private:
  std::int64_t dim_;
  recforge::Parameter items_{"template.items", recforge::Tensor::empty({1, 1}, recforge::DType::kF32),
                             recforge::Parameter::Kind::kEmbedding};
};

}  // namespace

RF_REGISTER_MODEL("template", TemplateModel);
