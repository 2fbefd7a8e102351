// Optimizers over a model's parameters. Dense parameters are updated in full;
// embedding tables only in the rows the step touched (lazy updates), so the cost
// follows the batch, not the table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "recforge/config/schema.hpp"
#include "recforge/core/resources.hpp"
#include "recforge/model/parameter.hpp"

namespace recforge {

Schema optimizer_schema();

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies the (already synchronised) gradients with learning rate `lr` at
  // global step `global_step` (0-based; Adam's bias correction uses it, so a
  // resumed run continues exactly).
  virtual void step(const Resources& res, const std::vector<Parameter*>& params, float lr,
                    std::int64_t global_step) = 0;
  virtual std::string_view name() const = 0;
  float base_lr() const { return base_lr_; }

 protected:
  explicit Optimizer(const ConfigNode& config);
  // Embedding tables are updated row-wise (only a step's rows) unless
  // `embedding_updates: dense` asks for every row every step.
  bool lazy(const Parameter& p) const { return p.is_embedding() && lazy_embeddings_; }
  // The parameter's gradient as a dense tensor (an embedding's rows scattered
  // into zeros).
  static Tensor& dense_gradient(const Resources& res, Parameter& p);

 private:
  float base_lr_;
  bool lazy_embeddings_;
};

// From a resolved `train.optimizer` section.
std::unique_ptr<Optimizer> make_optimizer(const ConfigNode& config);

}  // namespace recforge
