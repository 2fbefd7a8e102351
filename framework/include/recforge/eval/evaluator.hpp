// Evaluator: the interface of evaluation plugins ("ranking", ...). The trainer
// calls it on the validation split after selected epochs and on the test split
// at the end; every rank calls evaluate() and every rank gets the same values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "recforge/log/metrics_log.hpp"

namespace recforge {

class Communicator;
class Model;
class Resources;
namespace data {
struct Dataset;
struct InteractionTable;
}  // namespace data

struct EvalContext {
  const data::Dataset* dataset = nullptr;
  const Resources* resources = nullptr;
  Communicator* comm = nullptr;
  std::uint64_t seed = 0;
};

class Evaluator {
 public:
  static constexpr const char* kPluginKind = "evaluator";
  virtual ~Evaluator() = default;
  virtual std::string_view type() const = 0;

  // Metrics of `model` on the held-out interactions `heldout` (dataset.valid or
  // dataset.test), with the training interactions masked.
  virtual MetricValues evaluate(Model& model, const data::InteractionTable& heldout, const EvalContext& context) = 0;
  // A console table of evaluate()'s result.
  virtual std::string format(const MetricValues& values) const;
  // Config errors only the data can show (more sampled negatives than items),
  // checked before training rather than at the first evaluation.
  virtual void check_data(const data::Dataset& dataset) const { (void)dataset; }
  // Config errors only the built model can show (a metric it cannot give),
  // checked before training too. Collective when the model's exports are.
  virtual void check_model(Model& model) const { (void)model; }
  // Every name evaluate() may report on `dataset` (empty: not known before it
  // runs), so a config naming a metric (train.early_stopping.metric,
  // checkpoint.keep_best) is checked before training, not after the first
  // epoch. A name listed may still be missing (rmse for a model that cannot
  // predict ratings); that is caught at the first evaluation.
  virtual std::vector<std::string> possible_metrics(const data::Dataset& dataset) const {
    (void)dataset;
    return {};
  }
};

}  // namespace recforge
