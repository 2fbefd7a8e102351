// CPU reference kernels for the SGD updates (see optim.hpp).
#include <cmath>

#include "recforge/kernels/optim.hpp"

namespace recforge::kernels {
namespace {

// Dense updates are element-wise (the result does not depend on the split):
// threads pay off for whole embedding tables (embedding_updates: dense).
constexpr std::int64_t kParallelUpdate = 1 << 16;

// Every id is checked before any row moves: a bad one leaves the table (and
// its optimizer state) as it was, not half-stepped.
void check_row_ids(const char* op, const std::int32_t* id, std::int64_t n, std::int64_t rows) {
  for (std::int64_t k = 0; k < n; ++k) RF_CHECK(id[k] >= 0 && id[k] < rows, op, ": row id ", id[k], " outside [0, ", rows, ")");
}

inline void sgd_element(float& w, float g, float& v, const SgdOptions& o) {
  g += o.weight_decay * w;
  if (o.momentum > 0.0f) {
    v = o.momentum * v + g;
    g = v;
  }
  w -= o.lr * g;
}

// weights (N), grad (N), velocity (N).
void sgd_dense_cpu(const Resources&, TensorView weights, const TensorView& grad, TensorView velocity,
                   const SgdOptions& o) {
  float* w = weights.data_as<float>();
  const float* g = grad.data_as<float>();
  float* v = velocity.data_as<float>();
  const std::int64_t n = weights.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
  for (std::int64_t i = 0; i < n; ++i) sgd_element(w[i], g[i], v[i], o);
}

// table (R, D), velocity (R, D), ids (m), grad_rows (m, D).
void sgd_rows_cpu(const Resources&, TensorView table, TensorView velocity, const TensorView& ids,
                  const TensorView& grad_rows, const SgdOptions& o) {
  float* w = table.data_as<float>();
  float* v = velocity.data_as<float>();
  const float* g = grad_rows.data_as<float>();
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const std::int64_t m = ids.numel(), d = table.shape[1], rows = table.shape[0];
  check_row_ids("sgd_rows", id, m, rows);
  for (std::int64_t k = 0; k < m; ++k) {
    for (std::int64_t c = 0; c < d; ++c) sgd_element(w[id[k] * d + c], g[k * d + c], v[id[k] * d + c], o);
  }
}

inline void adam_element(float& w, float g, float& m, float& v, const AdamOptions& o, float c1, float c2) {
  w -= o.lr * o.decoupled_decay * w;  // AdamW (0 for Adam: w is unchanged)
  g += o.weight_decay * w;
  m = o.beta1 * m + (1.0f - o.beta1) * g;
  v = o.beta2 * v + (1.0f - o.beta2) * g * g;
  w -= o.lr * (m / c1) / (std::sqrt(v / c2) + o.eps);
}

// Bias corrections 1 - beta^t.
float correction(float beta, std::int64_t t) { return 1.0f - std::pow(beta, static_cast<float>(t)); }

void adam_dense_cpu(const Resources&, TensorView weights, const TensorView& grad, TensorView m, TensorView v,
                    const AdamOptions& o) {
  float *w = weights.data_as<float>(), *pm = m.data_as<float>(), *pv = v.data_as<float>();
  const float* g = grad.data_as<float>();
  const float c1 = correction(o.beta1, o.step), c2 = correction(o.beta2, o.step);
  const std::int64_t n = weights.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
  for (std::int64_t i = 0; i < n; ++i) adam_element(w[i], g[i], pm[i], pv[i], o, c1, c2);
}

void adam_rows_cpu(const Resources&, TensorView table, TensorView m, TensorView v, const TensorView& ids,
                   const TensorView& grad_rows, const AdamOptions& o) {
  float *w = table.data_as<float>(), *pm = m.data_as<float>(), *pv = v.data_as<float>();
  const float* g = grad_rows.data_as<float>();
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const std::int64_t n = ids.numel(), d = table.shape[1], rows = table.shape[0];
  const float c1 = correction(o.beta1, o.step), c2 = correction(o.beta2, o.step);
  check_row_ids("adam_rows", id, n, rows);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t at = static_cast<std::int64_t>(id[k]) * d;
    for (std::int64_t c = 0; c < d; ++c) adam_element(w[at + c], g[k * d + c], pm[at + c], pv[at + c], o, c1, c2);
  }
}

inline void adagrad_element(float& w, float g, float& s, const AdagradOptions& o) {
  g += o.weight_decay * w;
  s += g * g;
  w -= o.lr * g / (std::sqrt(s) + o.eps);
}

void adagrad_dense_cpu(const Resources&, TensorView weights, const TensorView& grad, TensorView sum_squares,
                       const AdagradOptions& o) {
  float *w = weights.data_as<float>(), *s = sum_squares.data_as<float>();
  const float* g = grad.data_as<float>();
  const std::int64_t n = weights.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
  for (std::int64_t i = 0; i < n; ++i) adagrad_element(w[i], g[i], s[i], o);
}

void adagrad_rows_cpu(const Resources&, TensorView table, TensorView sum_squares, const TensorView& ids,
                      const TensorView& grad_rows, const AdagradOptions& o) {
  float *w = table.data_as<float>(), *s = sum_squares.data_as<float>();
  const float* g = grad_rows.data_as<float>();
  const std::int32_t* id = ids.data_as<std::int32_t>();
  const std::int64_t n = ids.numel(), d = table.shape[1], rows = table.shape[0];
  check_row_ids("adagrad_rows", id, n, rows);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t at = static_cast<std::int64_t>(id[k]) * d;
    for (std::int64_t c = 0; c < d; ++c) adagrad_element(w[at + c], g[k * d + c], s[at + c], o);
  }
}

}  // namespace

void adam_dense(const Resources& res, TensorView weights, const TensorView& grad, TensorView m, TensorView v,
                const AdamOptions& options) {
  for (const TensorView* t : std::initializer_list<const TensorView*>{&weights, &grad, &m, &v}) {
    check_dtype("adam_dense", *t, DType::kF32);
    check_contiguous("adam_dense", *t);
    check_same_device("adam_dense", weights, *t);
    RF_CHECK(t->numel() == weights.numel(), "adam_dense: sizes differ (", t->shape.str(), " vs ", weights.shape.str(), ")");
  }
  RF_CHECK(options.step >= 1, "adam: step must be >= 1");
  dispatch<adam_dense_op>(weights.device)(res, weights, grad, m, v, options);
}

void adam_rows(const Resources& res, TensorView table, TensorView m, TensorView v, const TensorView& ids,
               const TensorView& grad_rows, const AdamOptions& options) {
  check_dtype("adam_rows ids", ids, DType::kI32);
  RF_CHECK(table.ndim() == 2 && grad_rows.ndim() == 2 && grad_rows.shape[1] == table.shape[1] &&
               grad_rows.shape[0] == ids.numel() && m.numel() == table.numel() && v.numel() == table.numel(),
           "adam_rows: table ", table.shape.str(), ", ids ", ids.shape.str(), ", rows ", grad_rows.shape.str());
  check_same_device("adam_rows", table, ids);
  RF_CHECK(options.step >= 1, "adam: step must be >= 1");
  dispatch<adam_rows_op>(table.device)(res, table, m, v, ids, grad_rows, options);
}

void adagrad_dense(const Resources& res, TensorView weights, const TensorView& grad, TensorView sum_squares,
                   const AdagradOptions& options) {
  for (const TensorView* t : std::initializer_list<const TensorView*>{&weights, &grad, &sum_squares}) {
    check_dtype("adagrad_dense", *t, DType::kF32);
    check_same_device("adagrad_dense", weights, *t);
    RF_CHECK(t->numel() == weights.numel(), "adagrad_dense: sizes differ");
  }
  dispatch<adagrad_dense_op>(weights.device)(res, weights, grad, sum_squares, options);
}

void adagrad_rows(const Resources& res, TensorView table, TensorView sum_squares, const TensorView& ids,
                  const TensorView& grad_rows, const AdagradOptions& options) {
  check_dtype("adagrad_rows ids", ids, DType::kI32);
  RF_CHECK(table.ndim() == 2 && grad_rows.ndim() == 2 && grad_rows.shape[1] == table.shape[1] &&
               grad_rows.shape[0] == ids.numel() && sum_squares.numel() == table.numel(),
           "adagrad_rows: table ", table.shape.str(), ", ids ", ids.shape.str(), ", rows ", grad_rows.shape.str());
  check_same_device("adagrad_rows", table, ids);
  dispatch<adagrad_rows_op>(table.device)(res, table, sum_squares, ids, grad_rows, options);
}

RF_REGISTER_KERNEL(adam_dense, kCPU, adam_dense_cpu);
RF_REGISTER_KERNEL(adam_rows, kCPU, adam_rows_cpu);
RF_REGISTER_KERNEL(adagrad_dense, kCPU, adagrad_dense_cpu);
RF_REGISTER_KERNEL(adagrad_rows, kCPU, adagrad_rows_cpu);
RF_REGISTER_KERNEL(sgd_dense, kCPU, sgd_dense_cpu);
RF_REGISTER_KERNEL(sgd_rows, kCPU, sgd_rows_cpu);

}  // namespace recforge::kernels
