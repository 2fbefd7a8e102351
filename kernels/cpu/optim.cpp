// CPU reference kernels for the SGD updates (see optim.hpp).
#include "recforge/kernels/optim.hpp"

namespace recforge::kernels {
namespace {

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
  for (std::int64_t k = 0; k < m; ++k) {
    RF_CHECK(id[k] >= 0 && id[k] < rows, "sgd_rows: row id ", id[k], " outside [0, ", rows, ")");
    for (std::int64_t c = 0; c < d; ++c) sgd_element(w[id[k] * d + c], g[k * d + c], v[id[k] * d + c], o);
  }
}

}  // namespace

RF_REGISTER_KERNEL(sgd_dense, kCPU, sgd_dense_cpu);
RF_REGISTER_KERNEL(sgd_rows, kCPU, sgd_rows_cpu);

}  // namespace recforge::kernels
