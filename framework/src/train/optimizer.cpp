// SGD with momentum and L2; lazy (touched-rows-only) updates for embeddings.
#include "recforge/train/optimizer.hpp"

#include "recforge/kernels/optim.hpp"

namespace recforge {

Schema optimizer_schema() {
  Schema s("how gradients update the parameters");
  s.add_string("type", "sgd", "optimizer", {"sgd"})
      .add_float("lr", 0.05, "base learning rate (see lr_schedule)", 0.0)
      .add_float("momentum", 0.0, "SGD momentum (0: plain SGD); embeddings keep it per touched row", 0.0, 0.999)
      .add_float("weight_decay", 0.0, "L2 added to the gradient (embeddings: touched rows only)", 0.0);
  return s;
}

namespace {

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const ConfigNode& c)
      : Optimizer(static_cast<float>(c.get_double("lr"))),
        momentum_(static_cast<float>(c.get_double("momentum"))),
        weight_decay_(static_cast<float>(c.get_double("weight_decay"))) {}
  std::string_view name() const override { return "sgd"; }

  void step(const Resources& res, const std::vector<Parameter*>& params, float lr) override {
    const kernels::SgdOptions options{lr, momentum_, weight_decay_};
    for (Parameter* p : params) {
      // Without momentum the velocity buffer is never read; a 1-element stand-in avoids a full copy.
      Tensor& velocity = momentum_ > 0 ? p->state("momentum", res.stream()) : p->value();
      if (p->is_embedding()) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::sgd_rows(res, p->value(), velocity, rows.ids, rows.values, options);
      } else {
        kernels::sgd_dense(res, p->value(), p->grad(), velocity, options);
      }
    }
  }

 private:
  float momentum_, weight_decay_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const ConfigNode& config) {
  const std::string& type = config.get_string("type");
  if (type == "sgd") return std::make_unique<Sgd>(config);
  RF_THROW(ErrorKind::kConfig, config["type"].where(), ": unknown optimizer '", type, "'");
}

}  // namespace recforge
