// The differentiable ops: forward with the nn/gemm kernels, backward closures
// that add into the inputs' gradients, or store into them where a gradient
// slot is new (Graph::grad_slot: no zeroing, no read of the old value). An
// input that needs no gradient gets an empty slot (nullptr) and is skipped.
#include "recforge/autograd/ops.hpp"

#include <cmath>

#include "recforge/kernels/fused_attention.hpp"
#include "recforge/kernels/gemm.hpp"
#include "recforge/kernels/rows.hpp"

namespace recforge::ag {
namespace {

Graph& graph_of(const Var& v, const char* op) {
  RF_CHECK(v.defined(), "autograd: undefined input to '", op, "'");
  return v.graph();
}

// dx (+)= alpha * dy.
void add_scaled(const Resources& res, float alpha, const Tensor& dy, const GradSlot& dx) {
  if (!dx.overwrite) {
    kernels::axpy(res, alpha, dy, *dx);
  } else if (alpha == 1.0f) {
    (*dx).copy_from(dy, res.stream());
  } else {
    kernels::scale(res, alpha, dy, *dx);
  }
}

// dx (+)= dy * other.
void add_product(const Resources& res, const Tensor& dy, const Tensor& other, const GradSlot& dx) {
  if (dx.overwrite) {
    kernels::binary(res, kernels::Binary::kMul, dy, other, *dx);
  } else {
    kernels::mul_accumulate(res, dy, other, *dx);
  }
}

}  // namespace

Var matmul(const Var& a, const Var& b, bool trans_b, float alpha) {
  Graph& g = graph_of(a, "matmul");
  const Resources& res = g.resources();
  RF_CHECK(a.value().ndim() == 2 && b.value().ndim() == 2, "matmul: needs 2-d inputs, got ", a.shape().str(), " and ",
           b.shape().str());
  const std::int64_t m = trans_b ? b.size(0) : b.size(1);
  Tensor y = g.empty({a.size(0), m});
  kernels::gemm(res, a.value(), b.value(), y, {.trans_b = trans_b, .alpha = alpha});
  return g.record("matmul", y, {a, b}, [a, b, trans_b, alpha](Graph& g, const Tensor& dy) {
    const Resources& res = g.resources();
    if (const GradSlot da = g.grad_slot(a)) {
      // y = a b: da += dy b^T;  y = a b^T: da += dy b.
      kernels::gemm(res, dy, b.value(), *da, {.trans_b = !trans_b, .alpha = alpha, .beta = da.beta()});
    }
    if (const GradSlot db = g.grad_slot(b)) {
      if (trans_b) {
        kernels::gemm(res, dy, a.value(), *db, {.trans_a = true, .alpha = alpha, .beta = db.beta()});  // db += dy^T a
      } else {
        kernels::gemm(res, a.value(), dy, *db, {.trans_a = true, .alpha = alpha, .beta = db.beta()});  // db += a^T dy
      }
    }
  });
}

Var bias_add(const Var& x, const Var& b) {
  Graph& g = graph_of(x, "bias_add");
  Tensor y = g.empty(x.shape());
  kernels::bias_add(g.resources(), x.value(), b.value(), y);
  return g.record("bias_add", y, {x, b}, [x, b](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) add_scaled(g.resources(), 1.0f, dy, dx);
    if (Tensor* db = g.grad_of(b)) kernels::sum_rows_accumulate(g.resources(), dy, *db);
  });
}

Var linear(const Var& x, const Var& weight, const Var& bias) {
  if (!bias.defined()) return matmul(x, weight);
  // One node rather than matmul + bias_add: the backward hands dy to the
  // products directly, with no intermediate gradient buffer to zero and fill.
  Graph& g = graph_of(x, "linear");
  const Resources& res = g.resources();
  RF_CHECK(x.value().ndim() == 2 && weight.value().ndim() == 2, "linear: needs 2-d inputs, got ", x.shape().str(),
           " and ", weight.shape().str());
  Tensor y = g.empty({x.size(0), weight.size(1)});
  kernels::gemm(res, x.value(), weight.value(), y);
  kernels::bias_add(res, y, bias.value(), y);  // element-wise: in place is safe
  return g.record("linear", y, {x, weight, bias}, [x, weight, bias](Graph& g, const Tensor& dy) {
    const Resources& res = g.resources();
    if (const GradSlot dx = g.grad_slot(x)) {
      kernels::gemm(res, dy, weight.value(), *dx, {.trans_b = true, .beta = dx.beta()});
    }
    if (const GradSlot dw = g.grad_slot(weight)) {
      kernels::gemm(res, x.value(), dy, *dw, {.trans_a = true, .beta = dw.beta()});
    }
    if (Tensor* db = g.grad_of(bias)) kernels::sum_rows_accumulate(res, dy, *db);
  });
}

namespace {

Var binary(const Var& a, const Var& b, kernels::Binary op, const char* name) {
  Graph& g = graph_of(a, name);
  Tensor y = g.empty(a.shape());
  kernels::binary(g.resources(), op, a.value(), b.value(), y);
  return g.record(name, y, {a, b}, [a, b, op](Graph& g, const Tensor& dy) {
    const Resources& res = g.resources();
    if (const GradSlot da = g.grad_slot(a)) {
      if (op == kernels::Binary::kMul) {
        add_product(res, dy, b.value(), da);
      } else {
        add_scaled(res, 1.0f, dy, da);
      }
    }
    if (const GradSlot db = g.grad_slot(b)) {
      if (op == kernels::Binary::kMul) {
        add_product(res, dy, a.value(), db);
      } else {
        add_scaled(res, op == kernels::Binary::kSub ? -1.0f : 1.0f, dy, db);
      }
    }
  });
}

}  // namespace

Var add(const Var& a, const Var& b) { return binary(a, b, kernels::Binary::kAdd, "add"); }
Var sub(const Var& a, const Var& b) { return binary(a, b, kernels::Binary::kSub, "sub"); }
Var mul(const Var& a, const Var& b) { return binary(a, b, kernels::Binary::kMul, "mul"); }

Var scale(const Var& x, float alpha) {
  Graph& g = graph_of(x, "scale");
  Tensor y = g.empty(x.shape());
  kernels::scale(g.resources(), alpha, x.value(), y);
  return g.record("scale", y, {x}, [x, alpha](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) add_scaled(g.resources(), alpha, dy, dx);
  });
}

Var activation(const Var& x, kernels::Activation f) {
  Graph& g = graph_of(x, "activation");
  Tensor y = g.empty(x.shape());
  kernels::activation_forward(g.resources(), f, x.value(), y);
  return g.record("activation", y, {x}, [x, f, y](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) {
      kernels::activation_backward(g.resources(), f, x.value(), y, dy, *dx, /*accumulate=*/!dx.overwrite);
    }
  });
}

Var dropout(const Var& x, float p, const kernels::DropoutKey& key) {
  Graph& g = graph_of(x, "dropout");
  if (p == 0.0f || !g.training()) return x;
  Tensor y = g.empty(x.shape());
  // The mask (a byte per element) is kept for the backward when there is one:
  // reading it is cheaper than evaluating Philox again.
  const Resources& res = g.resources();
  Tensor mask = x.requires_grad() ? Tensor::empty(x.shape(), DType::kU8, res.allocator(), res.stream()) : Tensor();
  kernels::dropout(res, x.value(), p, key, y, mask.defined() ? TensorView(mask) : TensorView());
  return g.record("dropout", y, {x}, [x, p, key, mask](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) {
      kernels::dropout_backward(g.resources(), dy, p, key, *dx, mask, /*accumulate=*/!dx.overwrite);
    }
  });
}

Var rowwise_dot(const Var& a, const Var& b) {
  Graph& g = graph_of(a, "rowwise_dot");
  Tensor y = g.empty({a.size(0)});
  kernels::rowwise_dot(g.resources(), a.value(), b.value(), y);
  return g.record("rowwise_dot", y, {a, b}, [a, b](Graph& g, const Tensor& dy) {
    if (Tensor* da = g.grad_of(a)) kernels::scale_rows_accumulate(g.resources(), b.value(), dy, *da);
    if (Tensor* db = g.grad_of(b)) kernels::scale_rows_accumulate(g.resources(), a.value(), dy, *db);
  });
}

Var concat_columns(const std::vector<Var>& parts) {
  RF_CHECK(!parts.empty(), "concat_columns: nothing to concatenate");
  Graph& g = graph_of(parts.front(), "concat_columns");
  std::int64_t width = 0;
  for (const Var& p : parts) {
    RF_CHECK(p.value().ndim() == 2 && p.size(0) == parts.front().size(0), "concat_columns: ", p.shape().str(),
             " does not match ", parts.front().shape().str(), " in rows");
    width += p.size(1);
  }
  Tensor y = g.empty({parts.front().size(0), width});
  std::int64_t at = 0;
  for (const Var& p : parts) {
    kernels::copy_columns(g.resources(), p.value(), 0, y, at, p.size(1), false);
    at += p.size(1);
  }
  return g.record("concat_columns", y, parts, [parts](Graph& g, const Tensor& dy) {
    std::int64_t at = 0;
    for (const Var& p : parts) {
      if (const GradSlot dp = g.grad_slot(p)) {
        kernels::copy_columns(g.resources(), dy, at, *dp, 0, p.size(1), /*accumulate=*/!dp.overwrite);
      }
      at += p.size(1);
    }
  });
}

Var slice_columns(const Var& x, std::int64_t begin, std::int64_t width) {
  Graph& g = graph_of(x, "slice_columns");
  Tensor y = g.empty({x.size(0), width});
  kernels::copy_columns(g.resources(), x.value(), begin, y, 0, width, false);
  return g.record("slice_columns", y, {x}, [x, begin, width](Graph& g, const Tensor& dy) {
    if (Tensor* dx = g.grad_of(x)) kernels::copy_columns(g.resources(), dy, 0, *dx, begin, width, true);
  });
}

Var reshape(const Var& x, const Shape& shape) {
  Graph& g = graph_of(x, "reshape");
  return g.record("reshape", x.value().reshape(shape), {x}, [x](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) add_scaled(g.resources(), 1.0f, dy.reshape(x.shape()), dx);
  });
}

Var gather_rows(const Var& x, const Tensor& ids) {
  Graph& g = graph_of(x, "gather_rows");
  Tensor y = g.empty({ids.numel(), x.size(1)});
  kernels::gather_rows(g.resources(), x.value(), ids, y);
  return g.record("gather_rows", y, {x}, [x, ids](Graph& g, const Tensor& dy) {
    if (Tensor* dx = g.grad_of(x)) kernels::scatter_add_rows(g.resources(), *dx, ids, dy);
  });
}

Var spmm(const SparseMatrix& a, const SparseMatrix& a_transposed, const Var& x) {
  Graph& g = graph_of(x, "spmm");
  RF_CHECK(a_transposed.rows == a.cols && a_transposed.cols == a.rows, "spmm: the transpose of a ", a.rows, " x ",
           a.cols, " matrix is ", a_transposed.rows, " x ", a_transposed.cols);
  Tensor y = g.empty({a.rows, x.size(1)});
  kernels::spmm(g.resources(), a.view(), x.value(), y, false);
  return g.record("spmm", y, {x}, [x, a_transposed](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) {
      kernels::spmm(g.resources(), a_transposed.view(), dy, *dx, /*accumulate=*/!dx.overwrite);
    }
  });
}

Var batched_matmul(const Var& a, const Var& b, bool trans_b, float alpha) {
  Graph& g = graph_of(a, "batched_matmul");
  RF_CHECK(a.value().ndim() == 3 && b.value().ndim() == 3, "batched_matmul: needs 3-d inputs, got ", a.shape().str(),
           " and ", b.shape().str());
  const std::int64_t m = trans_b ? b.size(1) : b.size(2);
  Tensor y = g.empty({a.size(0), a.size(1), m});
  kernels::batched_gemm(g.resources(), a.value(), b.value(), y, {.trans_b = trans_b, .alpha = alpha});
  return g.record("batched_matmul", y, {a, b}, [a, b, trans_b, alpha](Graph& g, const Tensor& dy) {
    const Resources& res = g.resources();
    if (const GradSlot da = g.grad_slot(a)) {
      kernels::batched_gemm(res, dy, b.value(), *da, {.trans_b = !trans_b, .alpha = alpha, .beta = da.beta()});
    }
    if (const GradSlot db = g.grad_slot(b)) {
      if (trans_b) {
        kernels::batched_gemm(res, dy, a.value(), *db, {.trans_a = true, .alpha = alpha, .beta = db.beta()});
      } else {
        kernels::batched_gemm(res, a.value(), dy, *db, {.trans_a = true, .alpha = alpha, .beta = db.beta()});
      }
    }
  });
}

Var causal_mask(const Var& x, const Tensor& begin) {
  Graph& g = graph_of(x, "causal_mask");
  Tensor y = g.empty(x.shape());
  y.copy_from(x.value(), g.resources().stream());
  kernels::causal_mask(g.resources(), y, -INFINITY, begin.view());
  return g.record("causal_mask", y, {x}, [x, begin](Graph& g, const Tensor& dy) {
    if (const GradSlot dx = g.grad_slot(x)) {
      Tensor masked = dx.overwrite ? *dx : g.empty(dy.shape());
      masked.copy_from(dy, g.resources().stream());
      kernels::causal_mask(g.resources(), masked, 0.0f, begin.view());
      if (!dx.overwrite) kernels::axpy(g.resources(), 1.0f, masked, *dx);
    }
  });
}

namespace {

void check_attention_inputs(const Var& q, const Var& k, const Var& v, std::int64_t sequences, std::int64_t heads) {
  RF_CHECK(q.value().ndim() == 2 && q.shape() == k.shape() && q.shape() == v.shape(),
           "causal_self_attention: q, k, v must be equal (rows, d), got ", q.shape().str(), ", ", k.shape().str(), ", ",
           v.shape().str());
  const std::int64_t rows = q.size(0), d = q.size(1);
  RF_CHECK(sequences > 0 && rows % sequences == 0, "causal_self_attention: ", rows, " rows are not ", sequences,
           " sequences");
  RF_CHECK(heads > 0 && d % heads == 0, "causal_self_attention: ", d, " columns do not split into ", heads, " heads");
}

}  // namespace

Var causal_self_attention(const Var& q, const Var& k, const Var& v, std::int64_t sequences, std::int64_t heads,
                          float dropout_p, const kernels::DropoutKey& key, const Tensor& sequence_begin) {
  check_attention_inputs(q, k, v, sequences, heads);
  Graph& g = graph_of(q, "causal_self_attention");
  // A shape the device's kernel cannot hold (CUDA: shared memory) takes the
  // composed ops, which compute the same function and drop the same weights.
  if (!kernels::fused_causal_attention_fits(g.resources(), q.size(0) / sequences, q.size(1) / heads)) {
    return causal_self_attention_composed(q, k, v, sequences, heads, dropout_p, key, sequence_begin);
  }
  const kernels::AttentionOptions options{
      .sequences = sequences,
      .heads = heads,
      .scale = 1.0f / std::sqrt(static_cast<float>(q.size(1) / heads)),
      .dropout = g.training() ? dropout_p : 0.0f,
      .key = key,
      .sequence_begin = sequence_begin.view()};
  Tensor out = g.empty(q.shape()), lse = g.empty({q.size(0), heads});
  kernels::fused_causal_attention(g.resources(), q.value(), k.value(), v.value(), options, out, lse);
  // The closure keeps sequence_begin alive: options only views it.
  return g.record("causal_self_attention", out, {q, k, v},
                  [q, k, v, out, lse, options, sequence_begin](Graph& g, const Tensor& dy) {
    // The kernel writes all three gradients; inputs that need none get scratch.
    Tensor* dq = g.grad_of(q);
    Tensor* dk = g.grad_of(k);
    Tensor* dv = g.grad_of(v);
    Tensor sq = dq ? Tensor() : g.zeros(q.shape()), sk = dk ? Tensor() : g.zeros(k.shape()),
           sv = dv ? Tensor() : g.zeros(v.shape());
    kernels::fused_causal_attention_backward(g.resources(), q.value(), k.value(), v.value(), out, lse, dy, options,
                                             dq ? *dq : sq, dk ? *dk : sk, dv ? *dv : sv);
  });
}

Var causal_self_attention_composed(const Var& q, const Var& k, const Var& v, std::int64_t sequences,
                                   std::int64_t heads, float dropout_p, const kernels::DropoutKey& key,
                                   const Tensor& sequence_begin) {
  check_attention_inputs(q, k, v, sequences, heads);
  const std::int64_t rows = q.size(0), d = q.size(1);
  const std::int64_t l = rows / sequences, dh = d / heads;
  const float scale_by = 1.0f / std::sqrt(static_cast<float>(dh));
  std::vector<Var> outputs;
  for (std::int64_t h = 0; h < heads; ++h) {
    const auto head = [&](const Var& x) {
      return reshape(heads == 1 ? x : slice_columns(x, h * dh, dh), Shape{sequences, l, dh});
    };
    const Var scores = causal_mask(batched_matmul(head(q), head(k), true, scale_by), sequence_begin);
    Var weights = reshape(softmax_rows(reshape(scores, Shape{sequences * l, l})), Shape{sequences, l, l});
    weights = dropout(weights, dropout_p, {key.seed, key.stream + static_cast<std::uint64_t>(h), key.offset});
    outputs.push_back(reshape(batched_matmul(weights, head(v)), Shape{rows, dh}));
  }
  return heads == 1 ? outputs.front() : concat_columns(outputs);
}

namespace {

Var reduce(const Var& x, float factor, const char* name) {
  Graph& g = graph_of(x, name);
  Tensor total = g.empty({1});
  kernels::sum_all(g.resources(), x.value(), total);
  Tensor y = total;
  if (factor != 1.0f) {
    y = g.empty({1});
    kernels::scale(g.resources(), factor, total, y);
  }
  return g.record(name, y, {x}, [x, factor](Graph& g, const Tensor& dy) {
    if (Tensor* dx = g.grad_of(x)) kernels::broadcast_accumulate(g.resources(), dy, factor, *dx);
  });
}

}  // namespace

Var sum(const Var& x) { return reduce(x, 1.0f, "sum"); }
Var mean(const Var& x) {
  RF_CHECK(x.value().numel() > 0, "mean: of an empty tensor");
  return reduce(x, 1.0f / static_cast<float>(x.value().numel()), "mean");
}

Var softmax_rows(const Var& x) {
  Graph& g = graph_of(x, "softmax_rows");
  Tensor y = g.empty(x.shape());
  kernels::softmax_rows(g.resources(), x.value(), y);
  return g.record("softmax_rows", y, {x}, [x, y](Graph& g, const Tensor& dy) {
    if (Tensor* dx = g.grad_of(x)) kernels::softmax_rows_backward(g.resources(), y, dy, *dx);
  });
}

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
  Graph& g = graph_of(x, "layer_norm");
  Tensor y = g.empty(x.shape()), mu = g.empty({x.size(0)}), rstd = g.empty({x.size(0)});
  kernels::layer_norm(g.resources(), x.value(), gamma.value(), beta.value(), eps, y, mu, rstd);
  return g.record("layer_norm", y, {x, gamma, beta}, [x, gamma, beta, mu, rstd](Graph& g, const Tensor& dy) {
    // The kernel writes all three gradients; inputs that need none get scratch.
    Tensor* dx = g.grad_of(x);
    Tensor* dgamma = g.grad_of(gamma);
    Tensor* dbeta = g.grad_of(beta);
    Tensor sx = dx ? Tensor() : g.zeros(x.shape()), sg = dgamma ? Tensor() : g.zeros(gamma.shape()),
           sb = dbeta ? Tensor() : g.zeros(beta.shape());
    kernels::layer_norm_backward(g.resources(), x.value(), gamma.value(), mu, rstd, dy, dx ? *dx : sx,
                                 dgamma ? *dgamma : sg, dbeta ? *dbeta : sb);
  });
}

Var l2_normalize_rows(const Var& x, float eps) {
  Graph& g = graph_of(x, "l2_normalize_rows");
  Tensor y = g.empty(x.shape()), norms = g.empty({x.size(0)});
  kernels::l2_normalize_rows(g.resources(), x.value(), eps, y, norms);
  return g.record("l2_normalize_rows", y, {x}, [x, y, norms, eps](Graph& g, const Tensor& dy) {
    if (Tensor* dx = g.grad_of(x)) kernels::l2_normalize_rows_backward(g.resources(), x.value(), y, norms, eps, dy, *dx);
  });
}

Var bce_with_logits(const Var& logits, const Tensor& targets) {
  Graph& g = graph_of(logits, "bce_with_logits");
  Tensor loss = g.empty(logits.shape());
  kernels::bce_with_logits(g.resources(), logits.value(), targets, loss);
  return g.record("bce_with_logits", loss, {logits}, [logits, targets](Graph& g, const Tensor& dloss) {
    if (Tensor* dx = g.grad_of(logits)) {
      kernels::bce_with_logits_backward(g.resources(), logits.value(), targets, dloss, *dx);
    }
  });
}

Var softmax_cross_entropy(const Var& logits, const Tensor& target) {
  Graph& g = graph_of(logits, "softmax_cross_entropy");
  Tensor probs = g.empty(logits.shape()), loss = g.empty({logits.size(0)});
  kernels::softmax_cross_entropy(g.resources(), logits.value(), target, probs, loss);
  return g.record("softmax_cross_entropy", loss, {logits}, [logits, target, probs](Graph& g, const Tensor& dloss) {
    if (Tensor* dx = g.grad_of(logits)) {
      kernels::softmax_cross_entropy_backward(g.resources(), probs, target, dloss, *dx);
    }
  });
}

}  // namespace recforge::ag
