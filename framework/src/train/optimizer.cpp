// SGD with momentum and L2, Adam/AdamW, Adagrad; lazy (touched-rows-only)
// updates for embeddings unless embedding_updates: dense.
#include "recforge/train/optimizer.hpp"

#include "recforge/kernels/optim.hpp"
#include "recforge/kernels/rows.hpp"

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
      .add_float("eps", 1e-8, "adam, adamw, adagrad: added to the denominator", 0.0)
      .add_string("embedding_updates", "lazy",
                  "lazy: an embedding table's step updates only the rows it touched (sparse Adam/Adagrad, "
                  "per-row momentum); dense: every row every step, as for dense parameters (PyTorch's nn.Embedding "
                  "with a dense optimizer: untouched rows keep moving by momentum; a pass over each table per step)",
                  {"lazy", "dense"});
  return s;
}

Optimizer::Optimizer(const ConfigNode& config)
    : base_lr_(static_cast<float>(config.get_double("lr"))),
      lazy_embeddings_(config.get_string("embedding_updates") == "lazy") {}

Tensor& Optimizer::dense_gradient(const Resources& res, Parameter& p) {
  Tensor& grad = p.grad(res.stream());
  if (!p.is_embedding()) return grad;
  // Embedding gradients arrive as rows; zero_grad leaves the dense buffer alone.
  grad = Tensor::zeros(p.value().shape(), DType::kF32, p.value().device(), res.stream());
  const SparseRows& rows = p.rows();
  if (rows.size() > 0) kernels::scatter_add_rows(res, grad, rows.ids, rows.values);
  return grad;
}

namespace {

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const ConfigNode& c)
      : Optimizer(c),
        momentum_(static_cast<float>(c.get_double("momentum"))),
        weight_decay_(static_cast<float>(c.get_double("weight_decay"))) {}
  std::string_view name() const override { return "sgd"; }

  void step(const Resources& res, const std::vector<Parameter*>& params, float lr, std::int64_t) override {
    const kernels::SgdOptions options{lr, momentum_, weight_decay_};
    for (Parameter* p : params) {
      // Without momentum the velocity buffer is never read; a 1-element stand-in avoids a full copy.
      Tensor& velocity = momentum_ > 0 ? p->state("momentum", res.stream()) : p->value();
      if (lazy(*p)) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::sgd_rows(res, p->value(), velocity, rows.ids, rows.values, options);
      } else {
        kernels::sgd_dense(res, p->value(), dense_gradient(res, *p), velocity, options);
      }
    }
  }

 private:
  float momentum_, weight_decay_;
};

class Adam final : public Optimizer {
 public:
  Adam(const ConfigNode& c, bool decoupled)
      : Optimizer(c),
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
      if (lazy(*p)) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::adam_rows(res, p->value(), m, v, rows.ids, rows.values, o);
      } else {
        kernels::adam_dense(res, p->value(), dense_gradient(res, *p), m, v, o);
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
      : Optimizer(c),
        eps_(static_cast<float>(c.get_double("eps"))),
        weight_decay_(static_cast<float>(c.get_double("weight_decay"))) {}
  std::string_view name() const override { return "adagrad"; }

  void step(const Resources& res, const std::vector<Parameter*>& params, float lr, std::int64_t) override {
    const kernels::AdagradOptions o{lr, eps_, weight_decay_};
    for (Parameter* p : params) {
      Tensor& s = p->state("adagrad_sum", res.stream());
      if (lazy(*p)) {
        const SparseRows& rows = p->rows();
        if (rows.size() == 0) continue;
        kernels::adagrad_rows(res, p->value(), s, rows.ids, rows.values, o);
      } else {
        kernels::adagrad_dense(res, p->value(), dense_gradient(res, *p), s, o);
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
