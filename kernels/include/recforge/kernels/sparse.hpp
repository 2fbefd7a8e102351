// Sparse-dense products with a CSR matrix: the propagation of graph models
// (LightGCN) and its gradient. CPU reference in cpu/sparse.cpp (OpenMP over
// rows), CUDA in cuda/sparse.cu (cuSPARSE SpMM).
//   defines: spmm
#pragma once

#include <cstdint>

#include "recforge/core/resources.hpp"
#include "recforge/core/tensor_view.hpp"
#include "recforge/registry/kernel_registry.hpp"

namespace recforge::kernels {

// A CSR matrix (rows x cols) as three device tensors: offsets (rows + 1) i64,
// columns (nnz) i32 sorted within each row, values (nnz) f32.
struct CsrView {
  TensorView offsets, columns, values;
  std::int64_t rows = 0, cols = 0;
};

// y (rows, d) = A x (x: (cols, d)), or y += A x when accumulate. Each output
// row sums its entries in column order on the CPU (deterministic).
using SpmmFn = void(const Resources&, const CsrView& a, const TensorView& x, TensorView y, bool accumulate);
RF_DECLARE_OP(spmm, SpmmFn);

void spmm(const Resources& res, const CsrView& a, const TensorView& x, TensorView y, bool accumulate);

}  // namespace recforge::kernels
