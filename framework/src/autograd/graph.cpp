// Graph: the tape of one step and the reverse sweep over it.
#include "recforge/autograd/graph.hpp"

#include <map>

#include "recforge/kernels/nn.hpp"
#include "recforge/kernels/rows.hpp"

namespace recforge::ag {

const Tensor& Var::value() const { return graph_->nodes_[static_cast<std::size_t>(index_)].value; }
bool Var::requires_grad() const { return graph_->nodes_[static_cast<std::size_t>(index_)].requires_grad; }
const Tensor& Var::grad() const { return graph_->nodes_[static_cast<std::size_t>(index_)].grad; }

Graph::Graph(const Resources& resources) : resources_(resources) {}

Tensor Graph::empty(const Shape& shape) const {
  return Tensor::empty(shape, DType::kF32, resources_.allocator(), resources_.stream());
}

Tensor Graph::zeros(const Shape& shape) const {
  return Tensor::zeros(shape, DType::kF32, resources_.device(), resources_.stream());
}

Var Graph::add(Node node) {
  RF_CHECK(!backward_done_, "autograd: '", node.op, "' recorded after backward() (use a new Graph per step)");
  nodes_.push_back(std::move(node));
  return Var(this, static_cast<std::int32_t>(nodes_.size() - 1));
}

void Graph::check_owned(const Var& v, const char* op) const {
  RF_CHECK(v.graph_ == this, "autograd: an input of '", op, "' belongs to another graph (or is undefined)");
}

Var Graph::constant(Tensor value) {
  Node n{"constant", std::move(value)};
  return add(std::move(n));
}

Var Graph::parameter(Parameter& dense) {
  RF_CHECK(!dense.is_embedding(), "autograd: '", dense.name(), "' is an embedding table; look rows up with embedding()");
  Node n{"parameter", dense.value()};
  n.requires_grad = true;
  n.parameter = &dense;
  return add(std::move(n));
}

Var Graph::embedding(Parameter& table, const Tensor& ids) {
  RF_CHECK(table.is_embedding(), "autograd: '", table.name(), "' is dense; use parameter()");
  RF_CHECK(ids.dtype() == DType::kI32 && ids.ndim() == 1, "autograd: embedding ids of '", table.name(),
           "' must be a 1-d i32 tensor, got ", ids.shape().str());
  Tensor rows = empty({ids.numel(), table.value().size(1)});
  kernels::gather_rows(resources_, table.value(), ids, rows);
  Node n{"embedding", std::move(rows)};
  n.requires_grad = true;
  n.parameter = &table;
  n.ids = ids;
  return add(std::move(n));
}

Var Graph::record(const char* op, Tensor value, std::initializer_list<Var> inputs, Backward backward) {
  return record(op, std::move(value), std::vector<Var>(inputs), std::move(backward));
}

Var Graph::record(const char* op, Tensor value, const std::vector<Var>& inputs, Backward backward) {
  bool needs_grad = false;
  for (const Var& v : inputs) {
    check_owned(v, op);
    needs_grad = needs_grad || v.requires_grad();
  }
  Node n{op, std::move(value)};
  n.requires_grad = needs_grad;
  if (needs_grad) n.backward = std::move(backward);
  return add(std::move(n));
}

Tensor* Graph::grad_of(const Var& v) {
  check_owned(v, "grad_of");
  Node& n = nodes_[static_cast<std::size_t>(v.index_)];
  if (!n.requires_grad) return nullptr;
  if (!n.grad.defined() || n.grad.numel() != n.value.numel()) n.grad = zeros(n.value.shape());
  return &n.grad;
}

GradSlot Graph::grad_slot(const Var& v) {
  check_owned(v, "grad_slot");
  Node& n = nodes_[static_cast<std::size_t>(v.index_)];
  if (!n.requires_grad) return {};
  if (n.grad.defined() && n.grad.numel() == n.value.numel()) return {&n.grad, false};
  n.grad = empty(n.value.shape());
  return {&n.grad, true};
}

void Graph::backward(const Var& loss, float seed) {
  check_owned(loss, "backward");
  RF_CHECK(!backward_done_, "autograd: backward() called twice on one graph");
  RF_CHECK(loss.value().numel() == 1, "autograd: backward() needs a 1-element loss, got ", loss.shape().str());
  backward_done_ = true;
  if (!loss.requires_grad()) return;
  Tensor* seed_grad = grad_of(loss);
  const Tensor one = Tensor::from_vector(std::vector<float>{seed}).to(resources_.device(), resources_.stream());
  kernels::axpy(resources_, 1.0f, one.reshape(seed_grad->shape()), *seed_grad);

  // Embedding lookups of the same table are gathered into one SparseRows.
  std::map<Parameter*, std::vector<std::int32_t>> lookups;
  for (auto i = static_cast<std::int64_t>(nodes_.size()) - 1; i >= 0; --i) {
    Node& n = nodes_[static_cast<std::size_t>(i)];
    if (!n.requires_grad || !n.grad.defined() || n.grad.numel() != n.value.numel()) continue;
    if (n.backward) {
      // Copies: the closure may call grad_of(), which writes other nodes.
      const Backward step = n.backward;
      const Tensor grad_out = n.grad;
      step(*this, grad_out);
    } else if (n.parameter != nullptr && !n.parameter->is_embedding()) {
      kernels::axpy(resources_, 1.0f, n.grad, n.parameter->grad(resources_.stream()));
    } else if (n.parameter != nullptr) {
      lookups[n.parameter].push_back(static_cast<std::int32_t>(i));
    }
  }
  for (auto& [table, indices] : lookups) {
    std::int64_t total = table->rows().size();
    for (std::int32_t i : indices) total += nodes_[static_cast<std::size_t>(i)].ids.numel();
    const std::int64_t d = table->value().size(1);
    Tensor ids = Tensor::empty({total}, DType::kI32, resources_.allocator(), resources_.stream());
    Tensor values = empty({total, d});
    std::int64_t at = 0;
    const auto append = [&](const Tensor& id, const Tensor& rows) {
      const std::int64_t n = id.numel();
      if (n == 0) return;
      ids.slice_rows(at, at + n).copy_from(id, resources_.stream());
      values.slice_rows(at, at + n).copy_from(rows.reshape({n, d}), resources_.stream());
      at += n;
    };
    if (table->rows().size() > 0) append(table->rows().ids, table->rows().values);
    // Recording order (the sweep met them backwards), so results do not depend on it.
    for (auto it = indices.rbegin(); it != indices.rend(); ++it) {
      const Node& n = nodes_[static_cast<std::size_t>(*it)];
      append(n.ids, n.grad);
    }
    table->rows() = SparseRows{ids, values};
  }
}

}  // namespace recforge::ag
