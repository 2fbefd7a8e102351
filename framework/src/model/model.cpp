// Model defaults: the training mode a model does not support says so clearly.
#include "recforge/model/model.hpp"

#include "recforge/data/interactions.hpp"

#include "recforge/core/error.hpp"
#include "recforge/core/resources.hpp"

namespace recforge {

double StepStats::read_loss(const Resources& res) const {
  if (!loss.defined()) return loss_sum;
  RF_CHECK(loss.dtype() == DType::kF32, "StepStats::loss must hold f32 values, not ", dtype_name(loss.dtype()));
  const Tensor host = loss.to(Device::cpu(), res.stream());
  res.synchronize();
  double sum = 0;
  for (std::int64_t i = 0; i < host.numel(); ++i) sum += host.data_as<float>()[i];  // in order, as the tally
  return sum;
}

void Model::build(const ModelContext& context) {
  RF_CHECK(context.resources && context.comm, "Model::build needs resources and a communicator");
  RF_CHECK(context.dataset || (context.num_users > 0 && context.num_items > 0),
           "Model::build needs a dataset, or user and item counts for a serving build");
  context_ = context;
  build_impl(context);
}

StepStats Model::train_step(const TrainBatch&) {
  // The trainer calls train_step for training() == kMiniBatch (the default).
  RF_THROW(ErrorKind::kInternal, "model '", type(), "' does not override train_step; a mini-batch model implements "
           "it, a model that runs whole epochs overrides training() to return kEpoch and implements train_epoch");
}

StepStats Model::train_epoch(std::int64_t) {
  RF_THROW(ErrorKind::kInternal, "model '", type(), "' returns training() == kEpoch but does not override "
           "train_epoch");
}

std::int64_t Model::item_feature_columns(std::int64_t width) const {
  const std::int64_t bias = item_bias_columns();
  RF_CHECK(bias >= 0 && bias < width, "model '", type(), "' says ", bias, " of its ", width,
           " item embedding columns are biases");
  return width - bias;
}

bool Model::embeddings(Tensor&, Tensor&) { return false; }

std::int64_t Model::num_examples() const {
  RF_CHECK(context_.dataset != nullptr, "model '", type(), "' has no training data");
  return context_.dataset->train.size();
}

bool Model::score_pairs(std::span<const std::int32_t>, std::span<const std::int32_t>, std::span<float>) {
  return false;
}

bool Model::predict(std::span<const std::int32_t>, std::span<const std::int32_t>, std::span<float>) { return false; }

bool Model::fold_in(std::span<const std::int32_t>, std::span<const float>, std::span<float>) { return false; }

void Model::score(std::span<const std::int32_t>, TensorView) {
  RF_THROW(ErrorKind::kInternal, "model '", type(), "' has neither embeddings nor a score() for evaluation");
}

void require_positive_init_std(const ConfigNode& model_config) {
  const ConfigNode& node = model_config["init_std"];
  RF_CHECK_KIND(ErrorKind::kConfig, node.as_double() > 0, node.where(), ": model.init_std 0: factors that all start at ",
                "zero get zero gradients and never move, so nothing would be trained; give a positive standard "
                "deviation");
}

}  // namespace recforge
