// CPU reference kernels for ALS (see als_kernels.hpp for the equations).
// Rows are solved in parallel (OpenMP, dynamic schedule: row costs follow their
// interaction counts); the D-length loops are written for the vectoriser.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "als_kernels.hpp"

namespace recforge::als {

void check_problem(const Problem& p, const Options& o) {
  const std::int64_t d = p.factors.ndim() == 2 ? p.factors.shape[1] : -1;
  RF_CHECK(p.factors.ndim() == 2 && p.other.ndim() == 2 && p.other.shape[1] == d, "als: factors ",
           p.factors.shape.str(), " and other side ", p.other.shape.str(), " differ in D");
  for (const TensorView* t : {&p.factors, &p.other}) {
    check_dtype("als factors", *t, DType::kF32);
    check_contiguous("als factors", *t);
  }
  RF_CHECK(p.offsets.numel() == p.factors.shape[0] + 1, "als: ", p.offsets.numel(), " offsets for ", p.factors.shape[0],
           " rows");
  RF_CHECK(0 <= p.row_begin && p.row_begin <= p.row_end && p.row_end <= p.factors.shape[0], "als: rows [",
           p.row_begin, ", ", p.row_end, ") outside [0, ", p.factors.shape[0], ")");
  RF_CHECK(o.unobserved_weight == 0.0f || (p.gram.ndim() == 2 && p.gram.shape[0] == d && p.gram.shape[1] == d),
           "als: the Gram matrix must be D x D when the unobserved weight is not 0");
  RF_CHECK(p.weights.numel() == 0 || p.weights.numel() == p.cols.numel(), "als: weights do not match the columns");
  RF_CHECK(p.targets.numel() == 0 || p.targets.numel() == p.cols.numel(), "als: targets do not match the columns");
  RF_CHECK(o.cg_steps >= 1, "als: cg_steps must be >= 1");
}

namespace {

// Fixed row blocks for the Gram matrix: the partition, and so the summation
// order, does not depend on the thread count.
constexpr std::int64_t kGramBlock = 4096;

void gram_cpu(const Resources&, const TensorView& factors, TensorView out) {
  const std::int64_t n = factors.shape[0], d = factors.shape[1];
  const std::int64_t blocks = (n + kGramBlock - 1) / kGramBlock;
  std::vector<float> partial(static_cast<std::size_t>(std::max<std::int64_t>(blocks, 1) * d * d), 0.0f);
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);  // one BLAS thread per block: deterministic and no oversubscription
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t begin = b * kGramBlock, rows = std::min(kGramBlock, n - begin);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(d), static_cast<int>(rows), 1.0f,
                factors.data_as<float>() + begin * d, static_cast<int>(d), 0.0f, partial.data() + b * d * d,
                static_cast<int>(d));
  }
  openblas_set_num_threads(blas_threads);
  float* g = out.data_as<float>();
  for (std::int64_t i = 0; i < d; ++i) {
    for (std::int64_t j = i; j < d; ++j) {
      float s = 0.0f;
      for (std::int64_t b = 0; b < blocks; ++b) s += partial[static_cast<std::size_t>(b * d * d + i * d + j)];
      g[i * out.strides[0] + j] = s;
      g[j * out.strides[0] + i] = s;
    }
  }
}

inline float dot(const float* a, const float* b, std::int64_t d) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (std::int64_t k = 0; k < d; ++k) s += a[k] * b[k];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, std::int64_t d) {
#pragma omp simd
  for (std::int64_t k = 0; k < d; ++k) y[k] += alpha * x[k];
}

struct RowView {
  const std::int32_t* cols;
  const float* weights;  // nullptr: 1
  const float* targets;  // nullptr: 1
  std::int64_t n;
  float w(std::int64_t j) const { return weights ? weights[j] : 1.0f; }
  float t(std::int64_t j) const { return targets ? targets[j] : 1.0f; }
};

float row_reg(const Options& o, std::int64_t n_u, std::int64_t n_other) {
  if (o.reg_exponent == 0.0f) return o.reg;
  return o.reg * std::pow(static_cast<float>(n_u) + o.unobserved_weight * static_cast<float>(n_other), o.reg_exponent);
}

// out = A v for row u (A never formed): a0 G v + sum_i (c - a0)(y_i . v) y_i + l v.
void apply_a(const float* G, const float* Y, const RowView& row, float a0, float l, const float* v, float* out,
             std::int64_t d) {
  if (a0 != 0.0f) {
    for (std::int64_t r = 0; r < d; ++r) out[r] = a0 * dot(G + r * d, v, d) + l * v[r];
  } else {
    for (std::int64_t r = 0; r < d; ++r) out[r] = l * v[r];
  }
  for (std::int64_t j = 0; j < row.n; ++j) {
    const float* y = Y + static_cast<std::int64_t>(row.cols[j]) * d;
    axpy((row.w(j) - a0) * dot(y, v, d), y, out, d);
  }
}

void cg_cpu(const Resources&, const Problem& p, const Options& o) {
  const std::int64_t d = p.factors.shape[1], n_other = p.other.shape[0];
  const float* G = o.unobserved_weight != 0.0f ? p.gram.data_as<float>() : nullptr;
  const float* Y = p.other.data_as<float>();
  const std::int64_t* off = p.offsets.data_as<std::int64_t>();
#pragma omp parallel
  {
    std::vector<float> r(static_cast<std::size_t>(d)), dir(static_cast<std::size_t>(d)), ad(static_cast<std::size_t>(d));
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t u = p.row_begin; u < p.row_end; ++u) {
      const RowView row{p.cols.data_as<std::int32_t>() + off[u], p.weights.numel() ? p.weights.data_as<float>() + off[u] : nullptr,
                        p.targets.numel() ? p.targets.data_as<float>() + off[u] : nullptr, off[u + 1] - off[u]};
      const float l = row_reg(o, row.n, n_other);
      float* x = p.factors.data_as<float>() + u * d;
      // r = b - A x
      apply_a(G, Y, row, o.unobserved_weight, l, x, ad.data(), d);
      for (std::int64_t k = 0; k < d; ++k) r[static_cast<std::size_t>(k)] = -ad[static_cast<std::size_t>(k)];
      for (std::int64_t j = 0; j < row.n; ++j) axpy(row.w(j) * row.t(j), Y + static_cast<std::int64_t>(row.cols[j]) * d, r.data(), d);
      std::copy(r.begin(), r.end(), dir.begin());
      float rs = dot(r.data(), r.data(), d);
      for (int step = 0; step < o.cg_steps && rs > 1e-20f; ++step) {
        apply_a(G, Y, row, o.unobserved_weight, l, dir.data(), ad.data(), d);
        const float alpha = rs / dot(dir.data(), ad.data(), d);
        axpy(alpha, dir.data(), x, d);
        axpy(-alpha, ad.data(), r.data(), d);
        const float rs_new = dot(r.data(), r.data(), d);
        const float beta = rs_new / rs;
#pragma omp simd
        for (std::int64_t k = 0; k < d; ++k) dir[static_cast<std::size_t>(k)] = r[static_cast<std::size_t>(k)] + beta * dir[static_cast<std::size_t>(k)];
        rs = rs_new;
      }
    }
  }
}

// In-place Cholesky factorisation (lower) of a (D, D) SPD matrix and solve of L L^T x = b.
bool cholesky_solve(float* a, float* b, std::int64_t d) {
  for (std::int64_t j = 0; j < d; ++j) {
    double diag = a[j * d + j];
    for (std::int64_t k = 0; k < j; ++k) diag -= static_cast<double>(a[j * d + k]) * a[j * d + k];
    if (!(diag > 0)) return false;
    const float root = static_cast<float>(std::sqrt(diag));
    a[j * d + j] = root;
    for (std::int64_t i = j + 1; i < d; ++i) {
      double s = a[i * d + j];
      for (std::int64_t k = 0; k < j; ++k) s -= static_cast<double>(a[i * d + k]) * a[j * d + k];
      a[i * d + j] = static_cast<float>(s / root);
    }
  }
  for (std::int64_t i = 0; i < d; ++i) {  // L z = b
    double s = b[i];
    for (std::int64_t k = 0; k < i; ++k) s -= static_cast<double>(a[i * d + k]) * b[k];
    b[i] = static_cast<float>(s / a[i * d + i]);
  }
  for (std::int64_t i = d - 1; i >= 0; --i) {  // L^T x = z
    double s = b[i];
    for (std::int64_t k = i + 1; k < d; ++k) s -= static_cast<double>(a[k * d + i]) * b[k];
    b[i] = static_cast<float>(s / a[i * d + i]);
  }
  return true;
}

void cholesky_cpu(const Resources&, const Problem& p, const Options& o) {
  const std::int64_t d = p.factors.shape[1], n_other = p.other.shape[0];
  const float a0 = o.unobserved_weight;
  const float* G = a0 != 0.0f ? p.gram.data_as<float>() : nullptr;
  const float* Y = p.other.data_as<float>();
  const std::int64_t* off = p.offsets.data_as<std::int64_t>();
  bool failed = false;
  std::int64_t failed_row = -1;
#pragma omp parallel
  {
    std::vector<float> a(static_cast<std::size_t>(d * d)), b(static_cast<std::size_t>(d));
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t u = p.row_begin; u < p.row_end; ++u) {
      const RowView row{p.cols.data_as<std::int32_t>() + off[u], p.weights.numel() ? p.weights.data_as<float>() + off[u] : nullptr,
                        p.targets.numel() ? p.targets.data_as<float>() + off[u] : nullptr, off[u + 1] - off[u]};
      const float l = row_reg(o, row.n, n_other);
      for (std::int64_t i = 0; i < d * d; ++i) a[static_cast<std::size_t>(i)] = G ? a0 * G[i] : 0.0f;
      for (std::int64_t k = 0; k < d; ++k) a[static_cast<std::size_t>(k * d + k)] += l;
      std::fill(b.begin(), b.end(), 0.0f);
      for (std::int64_t j = 0; j < row.n; ++j) {
        const float* y = Y + static_cast<std::int64_t>(row.cols[j]) * d;
        const float w = row.w(j) - a0;
        for (std::int64_t r = 0; r < d; ++r) axpy(w * y[r], y, a.data() + r * d, d);
        axpy(row.w(j) * row.t(j), y, b.data(), d);
      }
      if (!cholesky_solve(a.data(), b.data(), d)) {
#pragma omp critical
        {
          failed = true;
          failed_row = u;
        }
        continue;
      }
      std::copy(b.begin(), b.end(), p.factors.data_as<float>() + u * d);
    }
  }
  RF_CHECK_KIND(ErrorKind::kNumerical, !failed, "als: the normal equations of row ", failed_row,
                " are not positive definite (reg = 0 with too few interactions?)");
}

double loss_cpu(const Resources&, const Problem& p, const Options& o) {
  const std::int64_t d = p.factors.shape[1], n_other = p.other.shape[0];
  const float a0 = o.unobserved_weight;
  const float* G = a0 != 0.0f ? p.gram.data_as<float>() : nullptr;
  const float* Y = p.other.data_as<float>();
  const std::int64_t* off = p.offsets.data_as<std::int64_t>();
  double total = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : total)
  for (std::int64_t u = p.row_begin; u < p.row_end; ++u) {
    const RowView row{p.cols.data_as<std::int32_t>() + off[u], p.weights.numel() ? p.weights.data_as<float>() + off[u] : nullptr,
                      p.targets.numel() ? p.targets.data_as<float>() + off[u] : nullptr, off[u + 1] - off[u]};
    const float* x = p.factors.data_as<float>() + u * d;
    double value = 0;
    if (!o.data_term) {
      total += row_reg(o, row.n, n_other) * dot(x, x, d);
      continue;
    }
    if (G) {
      double xgx = 0;
      for (std::int64_t r = 0; r < d; ++r) xgx += static_cast<double>(x[r]) * dot(G + r * d, x, d);
      value += a0 * xgx;
    }
    for (std::int64_t j = 0; j < row.n; ++j) {
      const double s = dot(x, Y + static_cast<std::int64_t>(row.cols[j]) * d, d);
      value += row.w(j) * (row.t(j) - s) * (row.t(j) - s) - a0 * s * s;
    }
    value += row_reg(o, row.n, n_other) * dot(x, x, d);
    total += value;
  }
  return total;
}

}  // namespace

RF_REGISTER_KERNEL(als_gram, kCPU, gram_cpu);
RF_REGISTER_KERNEL(als_solve_cg, kCPU, cg_cpu);
RF_REGISTER_KERNEL(als_solve_cholesky, kCPU, cholesky_cpu);
RF_REGISTER_KERNEL(als_loss, kCPU, loss_cpu);

}  // namespace recforge::als
