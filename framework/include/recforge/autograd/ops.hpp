// Differentiable ops on ag::Var (see graph.hpp). Each records its output and a
// backward closure built from the kernels in recforge/kernels/{nn,gemm}.hpp, so
// one op works on the CPU and on CUDA alike. Shapes are checked by the kernels'
// entry points. Matrices are (rows, columns), row-major.
#pragma once

#include <vector>

#include "recforge/autograd/graph.hpp"
#include "recforge/kernels/attention.hpp"
#include "recforge/kernels/nn.hpp"
#include "recforge/kernels/sparse.hpp"

namespace recforge::ag {

// ---- linear algebra
// alpha (n, k) x (k, m) -> (n, m); with trans_b, b is (m, k).
Var matmul(const Var& a, const Var& b, bool trans_b = false, float alpha = 1.0f);
// x (n, in) W (in, out) + bias (out): a fully connected layer. `bias` may be undefined.
Var linear(const Var& x, const Var& weight, const Var& bias);
// x (n, d) + b (d) on every row.
Var bias_add(const Var& x, const Var& b);

// ---- elementwise (same shapes)
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var scale(const Var& x, float alpha);
Var activation(const Var& x, kernels::Activation f);
inline Var relu(const Var& x) { return activation(x, kernels::Activation::kRelu); }
inline Var gelu(const Var& x) { return activation(x, kernels::Activation::kGelu); }
inline Var sigmoid(const Var& x) { return activation(x, kernels::Activation::kSigmoid); }
inline Var log_sigmoid(const Var& x) { return activation(x, kernels::Activation::kLogSigmoid); }
inline Var tanh(const Var& x) { return activation(x, kernels::Activation::kTanh); }
// Inverted dropout (identity when p == 0 or the graph is not training); the
// mask is keyed by `key`, so a step's dropout is reproducible and equal on CPU and CUDA.
Var dropout(const Var& x, float p, const kernels::DropoutKey& key);

// ---- rows and columns
// (n, d), (n, d) -> (n): row-wise dot products.
Var rowwise_dot(const Var& a, const Var& b);
// Columns side by side: (n, d1), (n, d2), ... -> (n, d1 + d2 + ...).
Var concat_columns(const std::vector<Var>& parts);
// Columns [begin, begin + width) of x (n, d).
Var slice_columns(const Var& x, std::int64_t begin, std::int64_t width);
// The same values with another shape of the same size.
Var reshape(const Var& x, const Shape& shape);

// Rows `ids` (i32, n) of x (R, d) -> (n, d); the gradient is scattered back
// (dense: for tables every row of which gets a gradient anyway, e.g. LightGCN's
// propagated embeddings; embedding tables use Graph::embedding instead).
Var gather_rows(const Var& x, const Tensor& ids);

// A constant CSR matrix on the graph's device.
struct SparseMatrix {
  Tensor offsets, columns, values;  // (rows + 1) i64, (nnz) i32, (nnz) f32
  std::int64_t rows = 0, cols = 0;
  kernels::CsrView view() const { return {offsets, columns, values, rows, cols}; }
};
// A x for x (cols, d); the backward multiplies by `a_transposed` (pass `a`
// itself for a symmetric matrix such as a normalised graph adjacency).
Var spmm(const SparseMatrix& a, const SparseMatrix& a_transposed, const Var& x);

// ---- attention
// For every b: alpha A[b] B[b] (or A[b] B[b]^T): (batch, n, k) x (batch, k, m).
Var batched_matmul(const Var& a, const Var& b, bool trans_b = false, float alpha = 1.0f);
// x (batch, L, L) with the entries above the diagonal set to -inf (their
// gradient is 0), and with `begin` ((batch) i32, optional) the padding keys
// before begin[b] too, in the rows from begin[b] on (kernels/attention.hpp).
Var causal_mask(const Var& x, const Tensor& begin = {});
// Scaled dot-product causal self-attention over `sequences` sequences of
// length L stored as rows: q, k, v (sequences * L, d) -> (sequences * L, d),
// `heads` heads of d / heads columns; attention weights dropped out with
// probability p (keyed by `key`) when training. One fused kernel
// (kernels/fused_attention.hpp) that keeps only a log-sum-exp per row and head;
// the composed ops below where the device's kernel does not hold the shape.
// sequence_begin (optional, (sequences) i32 on the device): each sequence's
// first position holding an item. The keys before it (padding) are masked;
// the caller reads no output of the query rows before it and passes them a
// zero gradient, so the kernel may skip them (their outputs are then 0).
Var causal_self_attention(const Var& q, const Var& k, const Var& v, std::int64_t sequences, std::int64_t heads,
                          float dropout_p = 0.0f, const kernels::DropoutKey& key = {},
                          const Tensor& sequence_begin = {});
// The same as the composition of the ops above (products, mask, softmax,
// dropout): the fused kernel's reference, and the path for shapes it does not
// hold. It masks the same keys and computes every row (the padding query rows
// with the causal mask only).
Var causal_self_attention_composed(const Var& q, const Var& k, const Var& v, std::int64_t sequences,
                                   std::int64_t heads, float dropout_p = 0.0f, const kernels::DropoutKey& key = {},
                                   const Tensor& sequence_begin = {});

// ---- reductions
Var sum(const Var& x);   // -> (1)
Var mean(const Var& x);  // -> (1)

// ---- normalisation
Var softmax_rows(const Var& x);
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps = 1e-5f);
// Rows scaled to unit L2 norm (norms below eps are clamped to eps).
Var l2_normalize_rows(const Var& x, float eps = 1e-12f);

// ---- losses (per-example; sum or mean them)
// logits (n), targets (n) in [0, 1] -> (n).
Var bce_with_logits(const Var& logits, const Tensor& targets);
// logits (n, c), target classes (n) i32 -> (n): -log softmax(logits)[target].
Var softmax_cross_entropy(const Var& logits, const Tensor& target);

}  // namespace recforge::ag
