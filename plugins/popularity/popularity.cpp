// Popularity: recommends the items with the most training interactions to
// everyone. No learned parameters; the baseline every model must beat.
#include "recforge/data/interactions.hpp"
#include "recforge/model/model.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge {
namespace {

class PopularityModel final : public Model {
 public:
  static Schema config_schema() {
    Schema s("Most-popular baseline: scores each item by its number of training interactions (or distinct users)");
    s.add_string("count", "users", "what popularity counts: distinct users, or all interactions",
                 {"users", "interactions"});
    return s;
  }
  explicit PopularityModel(const ConfigNode& c) : distinct_users_(c.get_string("count") == "users") {}

  std::string_view type() const override { return "popularity"; }
  Training training() const override { return Training::kEpoch; }
  std::vector<Parameter*> parameters() override { return {}; }
  StepStats train_epoch(std::int64_t) override { return {}; }  // counting happened in build

  // score(u, i) = 1 x count_i
  bool embeddings(Tensor& users, Tensor& items) override {
    users = Tensor::empty({context().dataset->num_users(), 1}, DType::kF32);
    for (float& v : users.span<float>()) v = 1.0f;
    items = Tensor::from_vector(counts_, {static_cast<std::int64_t>(counts_.size()), 1});
    return true;
  }

 protected:
  void build_impl(const ModelContext& ctx) override {
    const data::Dataset& d = *ctx.dataset;
    counts_.assign(static_cast<std::size_t>(d.num_items()), 0.0f);
    if (!distinct_users_) {
      for (std::int32_t i : d.train.item) counts_[static_cast<std::size_t>(i)] += 1.0f;
      return;
    }
    const data::Csr by_user = data::user_item_csr(data::InteractionTable{d.train.user, d.train.item, {}, {}}, d.num_users());
    for (std::int32_t u = 0; u < by_user.rows(); ++u) {
      for (std::int64_t j = by_user.offsets[static_cast<std::size_t>(u)]; j < by_user.offsets[static_cast<std::size_t>(u) + 1]; ++j) {
        if (j > by_user.offsets[static_cast<std::size_t>(u)] && by_user.col[static_cast<std::size_t>(j)] == by_user.col[static_cast<std::size_t>(j) - 1]) continue;
        counts_[static_cast<std::size_t>(by_user.col[static_cast<std::size_t>(j)])] += 1.0f;
      }
    }
  }

 private:
  bool distinct_users_;
  std::vector<float> counts_;
};

}  // namespace
}  // namespace recforge

RF_REGISTER_MODEL("popularity", recforge::PopularityModel);
