// Reverse-mode automatic differentiation over the kernel registry.
//
// A Graph records one training step: every op appends a node (its output value
// and a closure that turns the output's gradient into its inputs' gradients,
// with the op's backward kernels). Nodes are recorded in execution order, so
// walking them backwards visits every node after all of its consumers.
//
//   ag::Graph g(resources);
//   ag::Var u = g.embedding(user_table, user_ids);    // rows of an embedding Parameter
//   ag::Var h = ag::relu(mlp.forward(g, u));
//   ag::Var loss = ag::sum(ag::bce_with_logits(logits, labels));
//   g.backward(loss, 1.0f / global_batch);            // fills Parameter gradients
//
// Leaves: constants (no gradient), dense Parameters (their gradient is added to
// Parameter::grad()) and embedding lookups (their gradient becomes the table's
// SparseRows: only the looked-up rows, as the trainer and optimizers expect).
// A gradient buffer is allocated when the first contribution reaches it: a
// backward that can store that contribution (a GEMM with beta 0, a copy, a
// product) asks for a GradSlot and stores, the others ask grad_of(), which
// zeroes a new buffer, and accumulate (+=). A step then zeroes only the
// buffers whose first writer can only add.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/model/parameter.hpp"

namespace recforge::ag {

class Graph;

// Where a backward puts the gradient of one input: `overwrite` when nothing
// has reached it yet (the buffer is uninitialised: store, never add), else
// accumulate. Empty (false) when the input needs no gradient. Fill a slot
// before asking for the next one: an input used twice gets one buffer.
struct GradSlot {
  Tensor* tensor = nullptr;
  bool overwrite = false;
  explicit operator bool() const { return tensor != nullptr; }
  Tensor& operator*() const { return *tensor; }
  // GEMM's beta for this slot: 0 stores, 1 accumulates.
  float beta() const { return overwrite ? 0.0f : 1.0f; }
};

// A value recorded in a Graph (a handle: cheap to copy, valid while the Graph lives).
class Var {
 public:
  Var() = default;
  bool defined() const { return graph_ != nullptr; }
  Graph& graph() const { return *graph_; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  std::int64_t size(int axis) const { return value().size(axis); }
  bool requires_grad() const;
  // The gradient after Graph::backward() (undefined if none reached this value).
  const Tensor& grad() const;

 private:
  friend class Graph;
  Var(Graph* graph, std::int32_t index) : graph_(graph), index_(index) {}
  Graph* graph_ = nullptr;
  std::int32_t index_ = -1;
};

class Graph {
 public:
  // Receives the gradient of the node's output and adds its inputs' gradients.
  using Backward = std::function<void(Graph& graph, const Tensor& grad_out)>;

  explicit Graph(const Resources& resources);
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const Resources& resources() const { return resources_; }
  // Whether layers run in training mode (dropout active).
  bool training() const { return training_; }
  void set_training(bool training) { training_ = training; }

  // ---- leaves
  Var constant(Tensor value);
  Var parameter(Parameter& dense);
  // Rows `ids` (i32, n) of an embedding table: (n, D).
  Var embedding(Parameter& table, const Tensor& ids);

  // ---- recording (used by ops)
  // A node computed from `inputs`; `backward` runs only when the node receives
  // a gradient and some input requires one.
  Var record(const char* op, Tensor value, std::initializer_list<Var> inputs, Backward backward);
  Var record(const char* op, Tensor value, const std::vector<Var>& inputs, Backward backward);
  // The gradient buffer of `v` (zeros on first use), or nullptr when `v` needs
  // no gradient: ops' backward closures write into it.
  Tensor* grad_of(const Var& v);
  // The gradient buffer of `v` for one contribution that the caller stores
  // (slot.overwrite) or adds; empty when `v` needs no gradient.
  GradSlot grad_slot(const Var& v);
  // A new uninitialised / zeroed tensor on the graph's device (caching allocator).
  Tensor empty(const Shape& shape) const;
  Tensor zeros(const Shape& shape) const;

  // Backpropagates from `loss` (1 element) with d(objective)/d(loss) = seed,
  // then moves leaf gradients into their Parameters. Call once per graph.
  void backward(const Var& loss, float seed = 1.0f);

  std::int64_t size() const { return static_cast<std::int64_t>(nodes_.size()); }

 private:
  friend class Var;
  struct Node {
    const char* op;
    Tensor value;
    Tensor grad;
    bool requires_grad = false;
    Backward backward;
    Parameter* parameter = nullptr;  // dense leaf, or embedding table
    Tensor ids;                      // embedding lookups: the rows
  };
  Var add(Node node);
  void check_owned(const Var& v, const char* op) const;

  const Resources& resources_;
  bool training_ = true;
  bool backward_done_ = false;
  std::vector<Node> nodes_;
};

}  // namespace recforge::ag
