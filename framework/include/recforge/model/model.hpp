// Model: the interface every model plugin implements; the trainer drives it
// (see framework/README.md, "How a plugin plugs in").
//
// Two ways to train:
//   kMiniBatch  train_step() gets this rank's rows of a global batch, computes
//               the loss and fills parameter gradients; the trainer synchronises
//               gradients across ranks and applies the optimizer (NCF, two-tower,
//               SASRec, LightGCN, MF);
//   kEpoch      train_epoch() runs one full pass itself, communicating through
//               context().comm (ALS' alternating least squares).
// For evaluation a model either exposes user and item embeddings (scores are
// their dot products) or overrides score().
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "recforge/config/config_node.hpp"
#include "recforge/model/parameter.hpp"

namespace recforge {

class Communicator;
class Resources;
namespace data {
struct Dataset;
struct InteractionTable;
}

struct ModelContext {
  // The training data; null when the model is built for serving, from a
  // checkpoint: then build_impl creates parameters of num_users x num_items only
  // (their values are loaded next) and skips what training alone needs.
  const data::Dataset* dataset = nullptr;
  const Resources* resources = nullptr;
  Communicator* comm = nullptr;
  std::uint64_t seed = 0;
  std::int32_t num_users = 0, num_items = 0;  // a serving build's sizes
};

struct TrainBatch {
  std::span<const std::uint32_t> rows;  // this rank's examples: rows of dataset.train, or of the model's own
                                        // example list (num_examples(), e.g. SASRec's users)
  std::int64_t global_rows = 0;         // rows of the global batch over all ranks
  std::int64_t epoch = 0, step = 0, global_step = 0;
};

// Local sums; the trainer reduces them over ranks for logs.
struct StepStats {
  double loss_sum = 0;
  std::int64_t examples = 0;
  // The loss still on the model's device (f32 terms of any shape, summed),
  // for a model that leaves reading it to the trainer: the trainer reads it
  // with the step's non-finite counts, one wait for both on a GPU. When set,
  // loss_sum is not read.
  Tensor loss;

  // The loss sum wherever it is (reading `loss` waits for the stream): for
  // callers other than the trainer.
  double read_loss(const Resources& res) const;
};

class Model {
 public:
  static constexpr const char* kPluginKind = "model";
  enum class Training { kMiniBatch, kEpoch };

  virtual ~Model() = default;
  // The registered name ("als", "ncf", ...).
  virtual std::string_view type() const = 0;

  // Creates parameters (identically on every rank for the same seed) and any
  // data the model derives from the dataset. Called once before training.
  void build(const ModelContext& context);
  const ModelContext& context() const { return context_; }

  virtual Training training() const { return Training::kMiniBatch; }
  virtual std::vector<Parameter*> parameters() = 0;

  virtual StepStats train_step(const TrainBatch& batch);
  // Examples the trainer shuffles and batches: the training interactions by
  // default; a sequence model returns its number of users.
  virtual std::int64_t num_examples() const;
  virtual StepStats train_epoch(std::int64_t epoch);

  // Evaluation. Factor models return true and fill user (U x D) and item (I x D)
  // embeddings (CPU or the model's device); others override score().
  virtual bool embeddings(Tensor& users, Tensor& items);
  // Interactions after the training rows that the user vectors may read: the
  // validation rows while the test split is scored (the evaluator sets them,
  // then nullptr). A sequence model encodes them as the latest history, as
  // the SASRec paper's evaluation does; a model whose user vectors are
  // trained ignores them. The table outlives the call it is set for.
  virtual void set_extra_history(const data::InteractionTable* rows) { (void)rows; }
  // Bumped when the same parameters compute another function (SASRec 1:
  // attention masks the padding keys). Checkpoints record it; resume and
  // evaluate refuse another revision's, and the server folds in no users with
  // one (its stored vectors are served as they were computed).
  virtual std::int64_t revision() const { return 0; }
  // How many trailing columns of the item embeddings carry biases (folded in
  // so that the dot product is the score) rather than features: intra-list
  // diversity and the server's /v1/similar compare items by the other columns
  // only (checkpoints record the count).
  virtual std::int64_t item_bias_columns() const { return 0; }
  // The feature columns of item embeddings `width` wide: width less the bias
  // columns, at least 1 (a model that says otherwise is an error naming it).
  std::int64_t item_feature_columns(std::int64_t width) const;
  // scores (users.size() x num_items) for the given users.
  virtual void score(std::span<const std::int32_t> users, TensorView scores);
  // Ranking scores of (user, item) pairs, for models without embeddings (NeuMF,
  // SASRec): the sampled protocol ranks each held-out item among its negatives
  // with them. Returns false when unsupported.
  virtual bool score_pairs(std::span<const std::int32_t> users, std::span<const std::int32_t> items,
                           std::span<float> out);
  // Rating predictions for (user, item) pairs, for models that predict ratings
  // (RMSE/MAE); returns false for ranking-only models.
  virtual bool predict(std::span<const std::int32_t> users, std::span<const std::int32_t> items, std::span<float> out);
  // Embedding of a user not seen in training, from their interactions (items and
  // values such as ratings or counts), without retraining; false if unsupported.
  // `user` receives the row embeddings() would hold for that user.
  // The server calls it from several threads at once: it must not modify the model.
  virtual bool fold_in(std::span<const std::int32_t> items, std::span<const float> values, std::span<float> user);
  // Whether fold_in works (the server then builds the model from a checkpoint,
  // with ModelContext::dataset null, to fold in users unseen at training time).
  virtual bool supports_fold_in() const { return false; }

 protected:
  virtual void build_impl(const ModelContext& context) = 0;

 private:
  ModelContext context_;
};

// A model whose every gradient is a product of its factors (MF, ALS,
// LightGCN, an ID-only two-tower) never leaves all-zero factors: refuses
// model.init_std 0, naming the key, instead of training nothing.
void require_positive_init_std(const ConfigNode& model_config);

}  // namespace recforge
