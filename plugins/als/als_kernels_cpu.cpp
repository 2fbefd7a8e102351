// CPU reference kernels for ALS (see als_kernels.hpp for the equations).
// Rows are solved in parallel (OpenMP, dynamic schedule: row costs follow their
// interaction counts); the D-length loops are written for the vectoriser.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "als_kernels.hpp"
#include "recforge/core/simd.hpp"
#include "recforge/kernels/cpu_blas.hpp"

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
  kernels::use_one_blas_thread();  // blocks on the OpenMP threads, one BLAS thread each
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const std::int64_t begin = b * kGramBlock, rows = std::min(kGramBlock, n - begin);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(d), static_cast<int>(rows), 1.0f,
                factors.data_as<float>() + begin * d, static_cast<int>(d), 0.0f, partial.data() + b * d * d,
                static_cast<int>(d));
  }
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

using simd::hsum4xn;
using simd::hsumn;
using simd::kNativeFloats;
using simd::loadn;
using simd::load4;
using simd::storen;
using simd::VecN;
using simd::Vec4;

// Note [ALS CG on the CPU]
// The row's vectors live in fixed-size arrays when D is a compile-time constant
// (kD = 32, 64, 128), so the compiler keeps the accumulators of A v in vector
// registers across the whole product instead of re-reading and re-writing them
// for every term; kD = 0 is the same code for any D.
// A row's solve reads its observed y_i about six times (right-hand side,
// residual, three CG steps). They are gathered once into a contiguous
// thread-local block (with their weights), so the later passes hit L1/L2
// instead of fetching scattered rows of Y from L3 or memory again.
template <int kD>
struct CgRow {
  static_assert(kD % 16 == 0, "fixed sizes are whole vectors");
  static constexpr int kStorage = kD > 0 ? kD : 1024;
  static constexpr int kPrefetch = 8;  // rows of Y requested ahead of use (they come from L3 or memory)
  std::int64_t d;

  static float vdot(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (std::int64_t k = 0; k < n; ++k) s += a[k] * b[k];
    return s;
  }
  static void vaxpy(float alpha, const float* x, float* y, std::int64_t n) {
#pragma omp simd
    for (std::int64_t k = 0; k < n; ++k) y[k] += alpha * x[k];
  }

  // out = A v: a0 G v + sum_i (c - a0)(y_i . v) y_i + l v, with the row's y_i
  // stacked in `Yu` (rows x D) and weights c - a0 in `wu`. G is symmetric:
  // G v = sum_c v_c G[c, :], a sequence of multiply-adds into the accumulator.
  void apply(const float* G, const float* Yu, const float* wu, std::int64_t rows, float a0, float l, const float* v,
             float* out) const {
    if constexpr (kD > 0) {
      apply_fixed(G, Yu, wu, rows, a0, l, v, out);
    } else {
      apply_any(G, Yu, wu, rows, a0, l, v, out);
    }
  }

  // D a multiple of 16: v and the accumulator of A v are kD / kNativeFloats vector
  // variables, which the compiler keeps in registers for the whole product
  // (a plain float array would be loaded and stored around every term).
  static void apply_fixed(const float* G, const float* Yu, const float* wu, std::int64_t rows, float a0, float l,
                          const float* v, float* out) {
    constexpr int kV = kD / kNativeFloats;
    VecN vv[kV], acc[kV];
#pragma GCC unroll 8
    for (int q = 0; q < kV; ++q) {
      vv[q] = loadn(v + kNativeFloats * q);
      acc[q] = l * vv[q];
    }
    if (a0 != 0.0f) {
      for (int c = 0; c < kD; ++c) {
        const float s = a0 * v[c];
#pragma GCC unroll 8
        for (int q = 0; q < kV; ++q) acc[q] += s * loadn(G + c * kD + kNativeFloats * q);
      }
    }
    const auto partial_dot = [&](const float* y) {
      VecN t = loadn(y) * vv[0];
#pragma GCC unroll 8
      for (int q = 1; q < kV; ++q) t += loadn(y + kNativeFloats * q) * vv[q];
      return t;
    };
    const auto add_scaled = [&](float s, const float* y) {
#pragma GCC unroll 8
      for (int q = 0; q < kV; ++q) acc[q] += s * loadn(y + kNativeFloats * q);
    };
    std::int64_t j = 0;
    // Four rows at a time: their four horizontal sums share one shuffle tree.
    for (; j + 4 <= rows; j += 4) {
      const float* y = Yu + j * kD;
      const Vec4 s = hsum4xn(partial_dot(y), partial_dot(y + kD), partial_dot(y + 2 * kD), partial_dot(y + 3 * kD)) *
                     load4(wu + j);
      add_scaled(s[0], y);
      add_scaled(s[1], y + kD);
      add_scaled(s[2], y + 2 * kD);
      add_scaled(s[3], y + 3 * kD);
    }
    for (; j < rows; ++j) add_scaled(hsumn(partial_dot(Yu + j * kD)) * wu[j], Yu + j * kD);
#pragma GCC unroll 8
    for (int q = 0; q < kV; ++q) storen(out + kNativeFloats * q, acc[q]);
  }

  void apply_any(const float* G, const float* Yu, const float* wu, std::int64_t rows, float a0, float l, const float* v,
                 float* out) const {
    const std::int64_t n = d;
    float acc[kStorage];
#pragma omp simd
    for (std::int64_t r = 0; r < n; ++r) acc[r] = l * v[r];
    if (a0 != 0.0f) {
      for (std::int64_t c = 0; c < n; ++c) {
        const float s = a0 * v[c];
        const float* g = G + c * n;
#pragma omp simd
        for (std::int64_t r = 0; r < n; ++r) acc[r] += s * g[r];
      }
    }
    for (std::int64_t j = 0; j < rows; ++j) {
      const float* y = Yu + j * n;
      float t = 0.0f;
#pragma omp simd reduction(+ : t)
      for (std::int64_t r = 0; r < n; ++r) t += y[r] * v[r];
      t *= wu[j];
#pragma omp simd
      for (std::int64_t r = 0; r < n; ++r) acc[r] += t * y[r];
    }
#pragma omp simd
    for (std::int64_t r = 0; r < n; ++r) out[r] = acc[r];
  }

  // Copies the row's y_i into Yu and c - a0 into wu, and sets b = sum c p y_i.
  void gather(const float* Y, const RowView& row, float a0, float* Yu, float* wu, float* b) const {
    const std::int64_t n = kD > 0 ? kD : d;
    const auto y_of = [&](std::int64_t j) { return Y + static_cast<std::int64_t>(row.cols[j]) * n; };
    if constexpr (kD > 0) {
      constexpr int kV = kD / kNativeFloats;
      VecN acc[kV] = {};
      for (std::int64_t j = 0; j < row.n; ++j) {
        if (j + kPrefetch < row.n) {
          // Every cache line of the row: one prefetch brings only the first.
#pragma GCC unroll 8
          for (int line = 0; line < kD / 16; ++line) __builtin_prefetch(y_of(j + kPrefetch) + 16 * line);  // 64-byte lines
        }
        const float* y = y_of(j);
        const float cp = row.w(j) * row.t(j);
#pragma GCC unroll 8
        for (int q = 0; q < kV; ++q) {
          const VecN yq = loadn(y + kNativeFloats * q);
          storen(Yu + j * kD + kNativeFloats * q, yq);
          acc[q] += cp * yq;
        }
        wu[j] = row.w(j) - a0;
      }
#pragma GCC unroll 8
      for (int q = 0; q < kV; ++q) storen(b + kNativeFloats * q, acc[q]);
    } else {
#pragma omp simd
      for (std::int64_t k = 0; k < n; ++k) b[k] = 0.0f;
      for (std::int64_t j = 0; j < row.n; ++j) {
        if (j + kPrefetch < row.n) __builtin_prefetch(y_of(j + kPrefetch));
        const float* y = y_of(j);
        const float cp = row.w(j) * row.t(j);
#pragma omp simd
        for (std::int64_t k = 0; k < n; ++k) {
          Yu[j * n + k] = y[k];
          b[k] += cp * y[k];
        }
        wu[j] = row.w(j) - a0;
      }
    }
  }

  // `Yu` and `wu` are thread-local scratch of at least row.n x D and row.n floats.
  void solve(const float* G, const float* Y, const RowView& row, float a0, float l, int steps, float* x, float* Yu,
             float* wu) const {
    const std::int64_t n = kD > 0 ? kD : d;
    float r[kStorage], dir[kStorage], ad[kStorage];
    gather(Y, row, a0, Yu, wu, r);  // r = b
    apply(G, Yu, wu, row.n, a0, l, x, ad);
#pragma omp simd
    for (std::int64_t k = 0; k < n; ++k) r[k] -= ad[k];  // r = b - A x
    std::copy(r, r + n, dir);
    float rs = vdot(r, r, n);
    for (int step = 0; step < steps && rs > 1e-20f; ++step) {
      apply(G, Yu, wu, row.n, a0, l, dir, ad);
      const float alpha = rs / vdot(dir, ad, n);
      vaxpy(alpha, dir, x, n);
      vaxpy(-alpha, ad, r, n);
      const float rs_new = vdot(r, r, n);
      const float beta = rs_new / rs;
#pragma omp simd
      for (std::int64_t k = 0; k < n; ++k) dir[k] = r[k] + beta * dir[k];
      rs = rs_new;
    }
  }
};

template <int kD>
void cg_rows(const Problem& p, const Options& o) {
  const std::int64_t d = p.factors.shape[1], n_other = p.other.shape[0];
  const float* G = o.unobserved_weight != 0.0f ? p.gram.data_as<float>() : nullptr;
  const float* Y = p.other.data_as<float>();
  const std::int64_t* off = p.offsets.data_as<std::int64_t>();
  const CgRow<kD> solver{d};
  std::int64_t longest = 0;
  for (std::int64_t u = p.row_begin; u < p.row_end; ++u) longest = std::max(longest, off[u + 1] - off[u]);
#pragma omp parallel
  {
    std::vector<float> Yu(static_cast<std::size_t>(longest * d)), wu(static_cast<std::size_t>(longest));
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t u = p.row_begin; u < p.row_end; ++u) {
      const RowView row{p.cols.data_as<std::int32_t>() + off[u], p.weights.numel() ? p.weights.data_as<float>() + off[u] : nullptr,
                        p.targets.numel() ? p.targets.data_as<float>() + off[u] : nullptr, off[u + 1] - off[u]};
      solver.solve(G, Y, row, o.unobserved_weight, row_reg(o, row.n, n_other), o.cg_steps,
                   p.factors.data_as<float>() + u * d, Yu.data(), wu.data());
    }
  }
}

void cg_cpu(const Resources&, const Problem& p, const Options& o) {
  const std::int64_t d = p.factors.shape[1];
  RF_CHECK(d <= CgRow<0>::kStorage, "als_solve_cg: D = ", d, " exceeds the CPU kernel's ", CgRow<0>::kStorage);
  switch (d) {
    case 32: cg_rows<32>(p, o); break;
    case 64: cg_rows<64>(p, o); break;
    case 128: cg_rows<128>(p, o); break;
    default: cg_rows<0>(p, o);
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
  // Each row's term has its own slot and the slots are added in row order: a
  // reduction over dynamically scheduled threads would change the loss's last
  // bits from run to run.
  std::vector<double> terms(static_cast<std::size_t>(p.row_end - p.row_begin));
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t u = p.row_begin; u < p.row_end; ++u) {
    const RowView row{p.cols.data_as<std::int32_t>() + off[u], p.weights.numel() ? p.weights.data_as<float>() + off[u] : nullptr,
                      p.targets.numel() ? p.targets.data_as<float>() + off[u] : nullptr, off[u + 1] - off[u]};
    const float* x = p.factors.data_as<float>() + u * d;
    double value = 0;
    if (!o.data_term) {
      terms[static_cast<std::size_t>(u - p.row_begin)] = row_reg(o, row.n, n_other) * dot(x, x, d);
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
    terms[static_cast<std::size_t>(u - p.row_begin)] = value;
  }
  return std::accumulate(terms.begin(), terms.end(), 0.0);
}

}  // namespace

RF_REGISTER_KERNEL(als_gram, kCPU, gram_cpu);
RF_REGISTER_KERNEL(als_solve_cg, kCPU, cg_cpu);
RF_REGISTER_KERNEL(als_solve_cholesky, kCPU, cholesky_cpu);
RF_REGISTER_KERNEL(als_loss, kCPU, loss_cpu);

}  // namespace recforge::als
