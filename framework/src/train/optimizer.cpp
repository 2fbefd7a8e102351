// SGD with momentum and L2; lazy (touched-rows-only) updates for embeddings.
#include "recforge/train/optimizer.hpp"

#include "recforge/kernels/optim.hpp"

namespace recforge {

Schema optimizer_schema() {
  Schema s("how gradients update the parameters");
  s.add_string("type", "sgd",
               "sgd (with momentum), adam, adamw (decoupled weight decay) or adagrad; embedding tables are updated "
               "lazily: only the rows a step touched, with their own moments (sparse Adam / Adagrad)",
               {"sgd", "adam", "adamw", "adagrad"})
      .add_float("lr", 0.05, "base learning rate (see lr_schedule)", 0.0)
      .add_float("momentum", 0.0, "sgd: momentum (0: plain SGD); embeddings keep it per touched row", 0.0, 0.999)
      .add_float("weight_decay", 0.0,
                 "sgd, adam, adagrad: L2 added to the gradient; adamw: decoupled decay of the weights (embeddings: "
                 "touched rows only)",
                 0.0)
      .add_float("beta1", 0.9, "adam, adamw: first-moment decay", 0.0, 0.999999)
      .add_float("beta2", 0.999, "adam, adamw: second-moment decay", 0.0, 0.999999)
      .add_float("eps", 1e-8, "adam, adamw, adagrad: added to the denominator", 0.0);
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

  void step(const Resources& res, const std::vector<Parameter*>& params, float lr, std::int64_t) override {
    const kernels::SgdOptions options{lr, momentum_, weight_decay_};
    for (Parameter* p : params) {
      // Without momentum the velocity buffer is never read; a 1-element stand-in avoids a full copy.
      Tensor& velocity = momentum_ > 0 ? p->state("momentum", res.stream()) : p->value();
      if (p->is_embedding()) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::sgd_rows(res, p->value(), velocity, rows.ids, rows.values, options);
      } else {
        kernels::sgd_dense(res, p->value(), p->grad(res.stream()), velocity, options);
      }
    }
  }

 private:
  float momentum_, weight_decay_;
};

class Adam final : public Optimizer {
 public:
  Adam(const ConfigNode& c, bool decoupled)
      : Optimizer(static_cast<float>(c.get_double("lr"))),
        decoupled_(decoupled),
        beta1_(static_cast<float>(c.get_double("beta1"))),
        beta2_(static_cast<float>(c.get_double("beta2"))),
        eps_(static_cast<float>(c.get_double("eps"))),
        weight_decay_(static_cast<float>(c.get_double("weight_decay"))) {}
  std::string_view name() const override { return decoupled_ ? "adamw" : "adam"; }

  void step(const Resources& res, const std::vector<Parameter*>& params, float lr, std::int64_t global_step) override {
    kernels::AdamOptions o;
    o.lr = lr;
    o.beta1 = beta1_;
    o.beta2 = beta2_;
    o.eps = eps_;
    o.weight_decay = decoupled_ ? 0.0f : weight_decay_;
    o.decoupled_decay = decoupled_ ? weight_decay_ : 0.0f;
    o.step = global_step + 1;
    for (Parameter* p : params) {
      Tensor& m = p->state("adam_m", res.stream());
      Tensor& v = p->state("adam_v", res.stream());
      if (p->is_embedding()) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::adam_rows(res, p->value(), m, v, rows.ids, rows.values, o);
      } else {
        kernels::adam_dense(res, p->value(), p->grad(res.stream()), m, v, o);
      }
    }
  }

 private:
  bool decoupled_;
  float beta1_, beta2_, eps_, weight_decay_;
};

class Adagrad final : public Optimizer {
 public:
  explicit Adagrad(const ConfigNode& c)
      : Optimizer(static_cast<float>(c.get_double("lr"))),
        eps_(static_cast<float>(c.get_double("eps"))),
        weight_decay_(static_cast<float>(c.get_double("weight_decay"))) {}
  std::string_view name() const override { return "adagrad"; }

  void step(const Resources& res, const std::vector<Parameter*>& params, float lr, std::int64_t) override {
    const kernels::AdagradOptions o{lr, eps_, weight_decay_};
    for (Parameter* p : params) {
      Tensor& s = p->state("adagrad_sum", res.stream());
      if (p->is_embedding()) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::adagrad_rows(res, p->value(), s, rows.ids, rows.values, o);
      } else {
        kernels::adagrad_dense(res, p->value(), p->grad(res.stream()), s, o);
      }
    }
  }

 private:
  float eps_, weight_decay_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const ConfigNode& config) {
  const std::string& type = config.get_string("type");
  if (type == "sgd") return std::make_unique<Sgd>(config);
  if (type == "adam" || type == "adamw") return std::make_unique<Adam>(config, type == "adamw");
  if (type == "adagrad") return std::make_unique<Adagrad>(config);
  RF_THROW(ErrorKind::kConfig, config["type"].where(), ": unknown optimizer '", type, "'");
}

}  // namespace recforge
