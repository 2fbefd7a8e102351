// ALS kernels: the normal equations of one side given the other.
//   defines: als_gram, als_solve_cg, als_solve_cholesky, als_loss
// Shapes: R rows being solved (users or items), N rows of the fixed side, D factors.
//
// For row u with observed columns i (CSR), weights c_ui and targets p_ui:
//   A_u = a0 G + sum_i (c_ui - a0) y_i y_i^T + l_u I,   b_u = sum_i c_ui p_ui y_i
//   l_u = reg * (n_u + a0 N)^nu,   G = Y^T Y
// Implicit ALS (Hu, Koren & Volinsky 2008): p = 1, c = 1 + alpha r, a0 = 1, nu = 0.
// iALS++-style (Rendle et al.): a0 = unobserved weight, nu = frequency exponent.
// Explicit weighted-lambda ALS: c = 1, p = r, a0 = 0, nu = 1.
// The loss of the rows [row_begin, row_end) is
//   sum_i c_ui (p_ui - x.y_i)^2 + a0 (x^T G x - sum_i (x.y_i)^2) + l_u |x|^2.
#pragma once

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::als {

struct Problem {
  TensorView factors;   // (R, D), rows [row_begin, row_end) solved in place (warm start for CG)
  TensorView other;     // (N, D) fixed side
  TensorView gram;      // (D, D) other^T other; unused when a0 == 0
  TensorView offsets;   // (R + 1) i64
  TensorView cols;      // (nnz) i32 rows of `other`
  TensorView weights;   // (nnz) f32 c_ui, or empty (all 1)
  TensorView targets;   // (nnz) f32 p_ui, or empty (all 1)
  std::int64_t row_begin = 0, row_end = 0;
};

struct Options {
  float reg = 0.01f;
  float unobserved_weight = 1.0f;  // a0
  float reg_exponent = 0.0f;       // nu
  int cg_steps = 3;
  bool data_term = true;  // als_loss: false gives the regularisation term only
};

// gram (D, D) = factors^T factors (N, D), summed over fixed blocks of rows in a
// fixed order: the same bits whatever the number of threads or ranks.
using GramFn = void(const Resources&, const TensorView& factors, TensorView gram);
RF_DECLARE_OP(als_gram, GramFn);

// Conjugate gradient, cg_steps per row, warm-started from the current factors (Takacs et al.).
using SolveFn = void(const Resources&, const Problem&, const Options&);
RF_DECLARE_OP(als_solve_cg, SolveFn);
// Exact solve: A_u formed and factorised (Cholesky) per row. CUDA: D <= 128.
RF_DECLARE_OP(als_solve_cholesky, SolveFn);

// Loss of rows [row_begin, row_end) (data and regularisation terms), in f64.
using LossFn = double(const Resources&, const Problem&, const Options&);
RF_DECLARE_OP(als_loss, LossFn);

void check_problem(const Problem& p, const Options& o);

inline void gram(const Resources& res, const TensorView& factors, TensorView out) {
  RF_CHECK(factors.ndim() == 2 && out.ndim() == 2 && out.shape[0] == factors.shape[1] && out.shape[1] == factors.shape[1],
           "als_gram: factors ", factors.shape.str(), ", gram ", out.shape.str());
  check_contiguous("als_gram", factors);
  dispatch<als_gram_op>(factors.device)(res, factors, out);
}

inline void solve_cg(const Resources& res, const Problem& p, const Options& o) {
  check_problem(p, o);
  dispatch<als_solve_cg_op>(p.factors.device)(res, p, o);
}

inline void solve_cholesky(const Resources& res, const Problem& p, const Options& o) {
  check_problem(p, o);
  dispatch<als_solve_cholesky_op>(p.factors.device)(res, p, o);
}

inline double loss(const Resources& res, const Problem& p, const Options& o) {
  check_problem(p, o);
  return dispatch<als_loss_op>(p.factors.device)(res, p, o);
}

}  // namespace recforge::als
