// MF kernels: one SGD step's forward and backward for a batch.
//   defines: mf_mse_step, mf_bpr_step
// Shapes: B batch, D factors, U users, I items.
//
// mse: pred = g + bu[u] + bi[i] + P[u].Q[i], e = pred - r
//      loss[b] = e^2;  dP = s(2e Q + 2l P), dQ = s(2e P + 2l Q), dbu = s(2e + 2l bu),
//      dbi = s(2e + 2l bi), dg[b] = s 2e
// bpr: x = P[u].(Q[i] - Q[j]) + bi[i] - bi[j], loss[b] = softplus(-x), c = sigmoid(x) - 1
//      dP = s(c (Q[i]-Q[j]) + 2l P), dQi = s(c P + 2l Q[i]), dQj = s(-c P + 2l Q[j]),
//      dbi = s(c + 2l bi[i]), dbj = s(-c + 2l bi[j])
// with s = scale (1 / global batch size) and l = reg. Contract: outputs are = (overwritten).
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::mf {

struct Tables {
  TensorView user;         // (U, D)
  TensorView item;         // (I, D)
  TensorView user_bias;    // (U, 1)
  TensorView item_bias;    // (I, 1)
  TensorView global_bias;  // (1), mse: read where it lives (no wait for the host)
};

struct Batch {
  TensorView user;      // (B) i32
  TensorView item;      // (B) i32
  TensorView negative;  // (B) i32, bpr
  TensorView rating;    // (B) f32, mse
};

struct Grads {
  TensorView user;           // (B, D)
  TensorView item;           // (B, D)
  TensorView negative;       // (B, D), bpr
  TensorView user_bias;      // (B, 1), mse
  TensorView item_bias;      // (B, 1)
  TensorView negative_bias;  // (B, 1), bpr
  TensorView global_bias;    // (B), mse: per-example contribution
  TensorView loss;           // (B)
};

using StepFn = void(const Resources&, const Tables&, const Batch&, const Grads&, float scale, float reg);
RF_DECLARE_OP(mf_mse_step, StepFn);
RF_DECLARE_OP(mf_bpr_step, StepFn);

// Shape and device checks shared by both steps; `bpr` selects which fields must be set.
void check_step_args(const Resources& res, const Tables& t, const Batch& b, const Grads& g, bool bpr);

inline void mse_step(const Resources& res, const Tables& t, const Batch& b, const Grads& g, float scale, float reg) {
  check_step_args(res, t, b, g, false);
  dispatch<mf_mse_step_op>(res.device())(res, t, b, g, scale, reg);
}

inline void bpr_step(const Resources& res, const Tables& t, const Batch& b, const Grads& g, float scale, float reg) {
  check_step_args(res, t, b, g, true);
  dispatch<mf_bpr_step_op>(res.device())(res, t, b, g, scale, reg);
}

}  // namespace recforge::mf
