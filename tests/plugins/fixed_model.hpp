// A factor model with given embeddings and a small dataset with a latent
// pattern, for evaluator-level tests on either device.
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <string>

#include "recforge/config/schema.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/data/interactions.hpp"
#include "recforge/model/model.hpp"

namespace recforge::ranking {

class FixedModel final : public Model {
 public:
  static Schema config_schema() { return Schema("fixed embeddings"); }
  explicit FixedModel(const ConfigNode&) {}
  std::string_view type() const override { return "fixed"; }
  std::vector<Parameter*> parameters() override { return {}; }
  bool embeddings(Tensor& users, Tensor& items) override {
    users = users_;
    items = items_;
    history_at_embeddings_ = history_;
    return exports_embeddings_;
  }
  void set_extra_history(const data::InteractionTable* rows) override { history_ = rows; }
  std::int64_t item_bias_columns() const override { return item_bias_columns_; }
  // Ratings: `prediction_` for every pair when set, else none.
  bool predict(std::span<const std::int32_t>, std::span<const std::int32_t>, std::span<float> out) override {
    if (!prediction_) return false;
    std::fill(out.begin(), out.end(), *prediction_);
    return true;
  }
  Tensor users_, items_;
  bool exports_embeddings_ = true;  // false: a model that scores pairs only (NCF-like)
  std::int64_t item_bias_columns_ = 0;
  std::optional<float> prediction_;
  const data::InteractionTable* history_ = nullptr;                // set_extra_history's
  const data::InteractionTable* history_at_embeddings_ = nullptr;  // as embeddings() was called

 protected:
  void build_impl(const ModelContext&) override {}
};

// Users with 3 to 19 interactions over `num_items` items, a quarter of them held out as test.
inline data::Dataset small_dataset(std::int32_t num_users, std::int32_t num_items) {
  data::Dataset d;
  std::vector<std::int64_t> ids_u(static_cast<std::size_t>(num_users)), ids_i(static_cast<std::size_t>(num_items));
  for (std::int32_t k = 0; k < num_users; ++k) ids_u[static_cast<std::size_t>(k)] = k;
  for (std::int32_t k = 0; k < num_items; ++k) ids_i[static_cast<std::size_t>(k)] = k;
  d.users = data::IdMap::integers(ids_u);
  d.items = data::IdMap::integers(ids_i);
  for (std::int32_t u = 0; u < num_users; ++u) {
    for (std::int32_t k = 0; k < 3 + u % 17; ++k) {
      const auto item = static_cast<std::int32_t>(philox_below(1, static_cast<std::uint64_t>(u), static_cast<std::uint64_t>(k),
                                                               static_cast<std::uint32_t>(num_items)));
      (k % 4 == 0 ? d.test : d.train).user.push_back(u);
      (k % 4 == 0 ? d.test : d.train).item.push_back(item);
    }
  }
  return d;
}

}  // namespace recforge::ranking
