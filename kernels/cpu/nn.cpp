// CPU reference kernels of the neural-network ops (see nn.hpp). Written for
// clarity first: rows are independent, so the row loops run in parallel
// (OpenMP); every reduction runs in a fixed order, so results do not depend on
// the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "recforge/core/philox.hpp"
#include "recforge/kernels/nn.hpp"
#include "parallel_threshold.hpp"

namespace recforge::kernels {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

float activation_value(Activation f, float x) {
  switch (f) {
    case Activation::kRelu: return x > 0.0f ? x : 0.0f;
    case Activation::kGelu: return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
    case Activation::kSigmoid: return sigmoid(x);
    case Activation::kLogSigmoid: return std::min(x, 0.0f) - std::log1p(std::exp(-std::fabs(x)));
    case Activation::kTanh: return std::tanh(x);
  }
  return 0.0f;
}

float activation_derivative(Activation f, float x, float y) {
  switch (f) {
    case Activation::kRelu: return x > 0.0f ? 1.0f : 0.0f;
    case Activation::kGelu: return 0.5f * (1.0f + std::erf(x * kInvSqrt2)) + x * std::exp(-0.5f * x * x) * kInvSqrt2Pi;
    case Activation::kSigmoid: return y * (1.0f - y);
    case Activation::kLogSigmoid: return sigmoid(-x);  // = 1 - sigmoid(x), exact for large x
    case Activation::kTanh: return 1.0f - y * y;
  }
  return 0.0f;
}

// The activation is a template parameter so each loop is specialised and vectorised.
template <Activation F>
void activation_forward_loop(const float* in, float* out, std::int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) out[i] = activation_value(F, in[i]);
}

// dst += v, or dst = v: a backward kernel's store into a new gradient buffer.
template <bool Accumulate>
void put(float& dst, float v) {
  if constexpr (Accumulate) {
    dst += v;
  } else {
    dst = v;
  }
}

template <Activation F, bool Accumulate>
void activation_backward_loop(const float* in, const float* out, const float* g, float* dst, std::int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) put<Accumulate>(dst[i], g[i] * activation_derivative(F, in[i], out[i]));
}

template <template <Activation> class Loop, class... Args>
void with_activation(Activation f, Args... args) {
  switch (f) {
    case Activation::kRelu: return Loop<Activation::kRelu>::run(args...);
    case Activation::kGelu: return Loop<Activation::kGelu>::run(args...);
    case Activation::kSigmoid: return Loop<Activation::kSigmoid>::run(args...);
    case Activation::kLogSigmoid: return Loop<Activation::kLogSigmoid>::run(args...);
    case Activation::kTanh: return Loop<Activation::kTanh>::run(args...);
  }
}

template <Activation F>
struct ForwardLoop {
  static void run(const float* in, float* out, std::int64_t n) { activation_forward_loop<F>(in, out, n); }
};
template <Activation F>
struct BackwardLoop {
  static void run(const float* in, const float* out, const float* g, float* dst, std::int64_t n, bool accumulate) {
    if (accumulate) {
      activation_backward_loop<F, true>(in, out, g, dst, n);
    } else {
      activation_backward_loop<F, false>(in, out, g, dst, n);
    }
  }
};

void activation_forward_cpu(const Resources&, Activation f, const TensorView& x, TensorView y) {
  with_activation<ForwardLoop>(f, x.data_as<float>(), y.data_as<float>(), x.numel());
}

void activation_backward_cpu(const Resources&, Activation f, const TensorView& x, const TensorView& y,
                             const TensorView& dy, TensorView dx, bool accumulate) {
  with_activation<BackwardLoop>(f, static_cast<const float*>(x.data_as<float>()), static_cast<const float*>(y.data_as<float>()),
                                static_cast<const float*>(dy.data_as<float>()), dx.data_as<float>(), x.numel(), accumulate);
}

void binary_cpu(const Resources&, Binary op, const TensorView& a, const TensorView& b, TensorView y) {
  const float *pa = a.data_as<float>(), *pb = b.data_as<float>();
  float* out = y.data_as<float>();
  const std::int64_t n = a.numel();
  switch (op) {
    case Binary::kAdd:
#pragma omp parallel for schedule(static) if (n > kParallelElements)
      for (std::int64_t i = 0; i < n; ++i) out[i] = pa[i] + pb[i];
      break;
    case Binary::kSub:
#pragma omp parallel for schedule(static) if (n > kParallelElements)
      for (std::int64_t i = 0; i < n; ++i) out[i] = pa[i] - pb[i];
      break;
    case Binary::kMul:
#pragma omp parallel for schedule(static) if (n > kParallelElements)
      for (std::int64_t i = 0; i < n; ++i) out[i] = pa[i] * pb[i];
      break;
  }
}

void axpy_cpu(const Resources&, float alpha, const TensorView& x, TensorView y) {
  const float* in = x.data_as<float>();
  float* out = y.data_as<float>();
  const std::int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) out[i] += alpha * in[i];
}

void mul_accumulate_cpu(const Resources&, const TensorView& a, const TensorView& b, TensorView y) {
  const float *pa = a.data_as<float>(), *pb = b.data_as<float>();
  float* out = y.data_as<float>();
  const std::int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) out[i] += pa[i] * pb[i];
}

void scale_cpu(const Resources&, float alpha, const TensorView& x, TensorView y) {
  const float* in = x.data_as<float>();
  float* out = y.data_as<float>();
  const std::int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) out[i] = alpha * in[i];
}

void bias_add_cpu(const Resources&, const TensorView& x, const TensorView& b, TensorView y) {
  const std::int64_t n = x.shape[0], d = x.shape[1];
  const float *in = x.data_as<float>(), *bias = b.data_as<float>();
  float* out = y.data_as<float>();
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < d; ++c) out[r * d + c] = in[r * d + c] + bias[c];
  }
}

void sum_rows_accumulate_cpu(const Resources&, const TensorView& dy, TensorView db) {
  const std::int64_t n = dy.shape[0], d = dy.shape[1];
  const float* g = dy.data_as<float>();
  float* out = db.data_as<float>();
  // Row by row with one running sum per column: each column is still summed
  // in row order (the same result), but memory is read sequentially.
  std::vector<float> sums(static_cast<std::size_t>(d), 0.0f);
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < d; ++c) sums[static_cast<std::size_t>(c)] += g[r * d + c];
  }
  for (std::int64_t c = 0; c < d; ++c) out[c] += sums[static_cast<std::size_t>(c)];
}

void rowwise_dot_cpu(const Resources&, const TensorView& a, const TensorView& b, TensorView y) {
  const std::int64_t n = a.shape[0], d = a.shape[1];
  const float *pa = a.data_as<float>(), *pb = b.data_as<float>();
  float* out = y.data_as<float>();
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    float s = 0.0f;
    for (std::int64_t c = 0; c < d; ++c) s += pa[r * d + c] * pb[r * d + c];
    out[r] = s;
  }
}

void scale_rows_accumulate_cpu(const Resources&, const TensorView& x, const TensorView& s, TensorView y) {
  const std::int64_t n = x.shape[0], d = x.shape[1];
  const float *in = x.data_as<float>(), *scale = s.data_as<float>();
  float* out = y.data_as<float>();
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < d; ++c) out[r * d + c] += in[r * d + c] * scale[r];
  }
}

void copy_columns_cpu(const Resources&, const TensorView& src, std::int64_t src_col, TensorView dst,
                      std::int64_t dst_col, std::int64_t width, bool accumulate) {
  const std::int64_t n = src.shape[0], ds = src.shape[1], dd = dst.shape[1];
  const float* in = src.data_as<float>();
  float* out = dst.data_as<float>();
  for (std::int64_t r = 0; r < n; ++r) {
    const float* s = in + r * ds + src_col;
    float* t = out + r * dd + dst_col;
    if (accumulate) {
      for (std::int64_t c = 0; c < width; ++c) t[c] += s[c];
    } else {
      std::copy(s, s + width, t);
    }
  }
}

void sum_all_cpu(const Resources&, const TensorView& x, TensorView out) {
  const float* in = x.data_as<float>();
  double s = 0.0;
  for (std::int64_t i = 0, n = x.numel(); i < n; ++i) s += in[i];
  out.data_as<float>()[0] = static_cast<float>(s);
}

void broadcast_accumulate_cpu(const Resources&, const TensorView& dy, float alpha, TensorView dx) {
  const float g = alpha * dy.data_as<float>()[0];
  float* out = dx.data_as<float>();
  for (std::int64_t i = 0, n = dx.numel(); i < n; ++i) out[i] += g;
}

void bce_with_logits_cpu(const Resources&, const TensorView& logits, const TensorView& targets, TensorView loss) {
  const float *x = logits.data_as<float>(), *t = targets.data_as<float>();
  float* out = loss.data_as<float>();
  for (std::int64_t i = 0, n = logits.numel(); i < n; ++i) {
    out[i] = std::max(x[i], 0.0f) - x[i] * t[i] + std::log1p(std::exp(-std::fabs(x[i])));
  }
}

void bce_with_logits_backward_cpu(const Resources&, const TensorView& logits, const TensorView& targets,
                                  const TensorView& dloss, TensorView dlogits) {
  const float *x = logits.data_as<float>(), *t = targets.data_as<float>(), *g = dloss.data_as<float>();
  float* out = dlogits.data_as<float>();
  for (std::int64_t i = 0, n = logits.numel(); i < n; ++i) out[i] += g[i] * (sigmoid(x[i]) - t[i]);
}

// exp(x) for x <= 0 (softmax arguments after the max is subtracted) without a
// library call, so the loop vectorises: 2^n e^r with n = round(x / ln 2),
// |r| <= ln2 / 2, e^r by a degree-6 polynomial (relative error ~2e-7, like expf).
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);  // below: e^x underflows; 2^n stays a normal float
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;  // ln2 split in two
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// probs[r] = softmax(x[r]); returns log(sum exp(x - max)) + max (the row's logsumexp).
float softmax_row(const float* x, std::int64_t c, float* probs) {
  float m = -INFINITY;
  for (std::int64_t j = 0; j < c; ++j) m = std::max(m, x[j]);
  // exp once per element (float, vectorised), the sum in double.
  for (std::int64_t j = 0; j < c; ++j) probs[j] = exp_nonpositive(x[j] - m);
  double sum = 0.0;
  for (std::int64_t j = 0; j < c; ++j) sum += probs[j];
  const auto inv = static_cast<float>(1.0 / sum);
  for (std::int64_t j = 0; j < c; ++j) probs[j] *= inv;
  return m + static_cast<float>(std::log(sum));
}

void softmax_cross_entropy_cpu(const Resources&, const TensorView& logits, const TensorView& target,
                               TensorView probs, TensorView loss) {
  const std::int64_t n = logits.shape[0], c = logits.shape[1];
  const float* x = logits.data_as<float>();
  const std::int32_t* t = target.data_as<std::int32_t>();
  float *p = probs.data_as<float>(), *out = loss.data_as<float>();
  for (std::int64_t r = 0; r < n; ++r) {
    RF_CHECK(t[r] >= 0 && t[r] < c, "softmax_cross_entropy: target ", t[r], " of row ", r, " outside [0, ", c, ")");
  }
#pragma omp parallel for schedule(static) if (n * c > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    const float lse = softmax_row(x + r * c, c, p + r * c);
    out[r] = lse - x[r * c + t[r]];
  }
}

void softmax_cross_entropy_backward_cpu(const Resources&, const TensorView& probs, const TensorView& target,
                                        const TensorView& dloss, TensorView dlogits) {
  const std::int64_t n = probs.shape[0], c = probs.shape[1];
  const float *p = probs.data_as<float>(), *g = dloss.data_as<float>();
  const std::int32_t* t = target.data_as<std::int32_t>();
  float* out = dlogits.data_as<float>();
#pragma omp parallel for schedule(static) if (n * c > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < c; ++j) out[r * c + j] += g[r] * (p[r * c + j] - (j == t[r] ? 1.0f : 0.0f));
  }
}

void softmax_rows_cpu(const Resources&, const TensorView& x, TensorView y) {
  const std::int64_t n = x.shape[0], c = x.shape[1];
  const float* in = x.data_as<float>();
  float* out = y.data_as<float>();
#pragma omp parallel for schedule(static) if (n * c > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) softmax_row(in + r * c, c, out + r * c);
}

void softmax_rows_backward_cpu(const Resources&, const TensorView& y, const TensorView& dy, TensorView dx) {
  const std::int64_t n = y.shape[0], c = y.shape[1];
  const float *p = y.data_as<float>(), *g = dy.data_as<float>();
  float* out = dx.data_as<float>();
#pragma omp parallel for schedule(static) if (n * c > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    float dot = 0.0f;
    for (std::int64_t j = 0; j < c; ++j) dot += g[r * c + j] * p[r * c + j];
    for (std::int64_t j = 0; j < c; ++j) out[r * c + j] += p[r * c + j] * (g[r * c + j] - dot);
  }
}

void layer_norm_cpu(const Resources&, const TensorView& x, const TensorView& gamma, const TensorView& beta, float eps,
                    TensorView y, TensorView mean, TensorView rstd) {
  const std::int64_t n = x.shape[0], d = x.shape[1];
  const float *in = x.data_as<float>(), *g = gamma.data_as<float>(), *b = beta.data_as<float>();
  float *out = y.data_as<float>(), *mu = mean.data_as<float>(), *rs = rstd.data_as<float>();
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    const float* row = in + r * d;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t c = 0; c < d; ++c) s += row[c];
    const auto m = static_cast<float>(s / static_cast<double>(d));
    double v = 0.0;
#pragma omp simd reduction(+ : v)
    for (std::int64_t c = 0; c < d; ++c) v += static_cast<double>(row[c] - m) * (row[c] - m);
    const auto inv = static_cast<float>(1.0 / std::sqrt(v / static_cast<double>(d) + eps));
    mu[r] = m;
    rs[r] = inv;
#pragma omp simd
    for (std::int64_t c = 0; c < d; ++c) out[r * d + c] = (row[c] - m) * inv * g[c] + b[c];
  }
}

void layer_norm_backward_cpu(const Resources&, const TensorView& x, const TensorView& gamma, const TensorView& mean,
                             const TensorView& rstd, const TensorView& dy, TensorView dx, TensorView dgamma,
                             TensorView dbeta) {
  const std::int64_t n = x.shape[0], d = x.shape[1];
  const float *in = x.data_as<float>(), *g = gamma.data_as<float>(), *mu = mean.data_as<float>(),
              *rs = rstd.data_as<float>(), *up = dy.data_as<float>();
  float *out = dx.data_as<float>(), *dg = dgamma.data_as<float>(), *db = dbeta.data_as<float>();
  // dgamma and dbeta sum over rows: each block of rows keeps its own partial
  // sums (row-major, vectorised over columns), added in block order at the end,
  // so the result does not depend on the thread count.
  constexpr std::int64_t kBlockRows = 256;
  const std::int64_t blocks = (n + kBlockRows - 1) / kBlockRows;
  std::vector<float> partial(static_cast<std::size_t>(blocks * 2 * d), 0.0f);
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t block = 0; block < blocks; ++block) {
    float* part_g = partial.data() + block * 2 * d;
    float* part_b = part_g + d;
    for (std::int64_t r = block * kBlockRows, end = std::min(n, r + kBlockRows); r < end; ++r) {
      const float *xr = in + r * d, *dyr = up + r * d;
      const float m = mu[r], inv = rs[r];
      // With xhat = (x - mean) rstd and h = dy * gamma:
      // dx = rstd (h - mean(h) - xhat mean(h xhat)).
      double sum_h = 0.0, sum_hx = 0.0;
#pragma omp simd reduction(+ : sum_h, sum_hx)
      for (std::int64_t c = 0; c < d; ++c) {
        const float xhat = (xr[c] - m) * inv;
        const float h = dyr[c] * g[c];
        sum_h += h;
        sum_hx += static_cast<double>(h) * xhat;
        part_g[c] += dyr[c] * xhat;
        part_b[c] += dyr[c];
      }
      const auto mean_h = static_cast<float>(sum_h / static_cast<double>(d));
      const auto mean_hx = static_cast<float>(sum_hx / static_cast<double>(d));
      float* dxr = out + r * d;
#pragma omp simd
      for (std::int64_t c = 0; c < d; ++c) {
        const float xhat = (xr[c] - m) * inv;
        dxr[c] += inv * (dyr[c] * g[c] - mean_h - xhat * mean_hx);
      }
    }
  }
  for (std::int64_t block = 0; block < blocks; ++block) {
    const float* part_g = partial.data() + block * 2 * d;
#pragma omp simd
    for (std::int64_t c = 0; c < d; ++c) {
      dg[c] += part_g[c];
      db[c] += part_g[d + c];
    }
  }
}

float row_norm(const float* x, std::int64_t d) {
  double s = 0.0;
  for (std::int64_t c = 0; c < d; ++c) s += static_cast<double>(x[c]) * x[c];
  return static_cast<float>(std::sqrt(s));
}

void l2_normalize_rows_cpu(const Resources&, const TensorView& x, float eps, TensorView y, TensorView norms) {
  const std::int64_t n = x.shape[0], d = x.shape[1];
  const float* in = x.data_as<float>();
  float *out = y.data_as<float>(), *nr = norms.data_as<float>();
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    const float norm = std::max(row_norm(in + r * d, d), eps);
    nr[r] = norm;
    for (std::int64_t c = 0; c < d; ++c) out[r * d + c] = in[r * d + c] / norm;
  }
}

void l2_normalize_rows_backward_cpu(const Resources&, const TensorView& x, const TensorView& y,
                                    const TensorView& norms, float eps, const TensorView& dy, TensorView dx) {
  const std::int64_t n = x.shape[0], d = x.shape[1];
  const float *in = x.data_as<float>(), *out = y.data_as<float>(), *nr = norms.data_as<float>(),
              *g = dy.data_as<float>();
  float* dst = dx.data_as<float>();
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (std::int64_t r = 0; r < n; ++r) {
    if (row_norm(in + r * d, d) <= eps) {  // clamped: y = x / eps is linear
      for (std::int64_t c = 0; c < d; ++c) dst[r * d + c] += g[r * d + c] / eps;
      continue;
    }
    float dot = 0.0f;
    for (std::int64_t c = 0; c < d; ++c) dot += out[r * d + c] * g[r * d + c];
    for (std::int64_t c = 0; c < d; ++c) dst[r * d + c] += (g[r * d + c] - out[r * d + c] * dot) / nr[r];
  }
}

// Calls fn(begin, count, words) for chunks of an n-element tensor on the
// OpenMP threads, words[j] being the stream's word for element begin + j: the
// words come first (vector Philox), then a plain loop the compiler vectorises.
template <class Fn>
void for_each_mask_chunk(const DropoutKey& key, std::int64_t n, Fn fn) {
  constexpr std::int64_t kChunk = 4096;
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t begin = c * kChunk, count = std::min(kChunk, n - begin);
    std::uint32_t words[kChunk];
    philox_for_each_word(key.seed, key.stream, key.offset + static_cast<std::uint64_t>(begin),
                         static_cast<std::uint64_t>(count), [&](std::uint64_t j, std::uint32_t w) { words[j] = w; });
    fn(begin, count, words);
  }
}

void dropout_cpu(const Resources&, const TensorView& x, float p, const DropoutKey& key, TensorView y,
                 TensorView mask) {
  const float* in = x.data_as<float>();
  float* out = y.data_as<float>();
  auto* keep = static_cast<std::uint8_t*>(mask.data);
  const float keep_scale = 1.0f / (1.0f - p);
  for_each_mask_chunk(key, x.numel(), [&](std::int64_t begin, std::int64_t count, const std::uint32_t* words) {
    if (keep == nullptr) {
      for (std::int64_t j = 0; j < count; ++j) {
        out[begin + j] = philox_word_uniform(words[j]) >= p ? in[begin + j] * keep_scale : 0.0f;
      }
      return;
    }
    for (std::int64_t j = 0; j < count; ++j) {
      const bool kept = philox_word_uniform(words[j]) >= p;
      keep[begin + j] = kept ? 1 : 0;
      out[begin + j] = kept ? in[begin + j] * keep_scale : 0.0f;
    }
  });
}

template <bool Accumulate>
void dropout_backward_loop(const float* g, float p, const DropoutKey& key, const std::uint8_t* keep, float* out,
                           std::int64_t n) {
  const float keep_scale = 1.0f / (1.0f - p);
  if (keep != nullptr) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
    for (std::int64_t i = 0; i < n; ++i) put<Accumulate>(out[i], keep[i] != 0 ? g[i] * keep_scale : 0.0f);
    return;
  }
  for_each_mask_chunk(key, n, [&](std::int64_t begin, std::int64_t count, const std::uint32_t* words) {
    for (std::int64_t j = 0; j < count; ++j) {
      put<Accumulate>(out[begin + j], philox_word_uniform(words[j]) >= p ? g[begin + j] * keep_scale : 0.0f);
    }
  });
}

void dropout_backward_cpu(const Resources&, const TensorView& dy, float p, const DropoutKey& key,
                          const TensorView& mask, TensorView dx, bool accumulate) {
  const auto* keep = static_cast<const std::uint8_t*>(mask.data);
  if (accumulate) {
    dropout_backward_loop<true>(dy.data_as<float>(), p, key, keep, dx.data_as<float>(), dy.numel());
  } else {
    dropout_backward_loop<false>(dy.data_as<float>(), p, key, keep, dx.data_as<float>(), dy.numel());
  }
}

}  // namespace

RF_REGISTER_KERNEL(activation_forward, kCPU, activation_forward_cpu);
RF_REGISTER_KERNEL(activation_backward, kCPU, activation_backward_cpu);
RF_REGISTER_KERNEL(binary, kCPU, binary_cpu);
RF_REGISTER_KERNEL(axpy, kCPU, axpy_cpu);
RF_REGISTER_KERNEL(mul_accumulate, kCPU, mul_accumulate_cpu);
RF_REGISTER_KERNEL(scale, kCPU, scale_cpu);
RF_REGISTER_KERNEL(bias_add, kCPU, bias_add_cpu);
RF_REGISTER_KERNEL(sum_rows_accumulate, kCPU, sum_rows_accumulate_cpu);
RF_REGISTER_KERNEL(rowwise_dot, kCPU, rowwise_dot_cpu);
RF_REGISTER_KERNEL(scale_rows_accumulate, kCPU, scale_rows_accumulate_cpu);
RF_REGISTER_KERNEL(copy_columns, kCPU, copy_columns_cpu);
RF_REGISTER_KERNEL(sum_all, kCPU, sum_all_cpu);
RF_REGISTER_KERNEL(broadcast_accumulate, kCPU, broadcast_accumulate_cpu);
RF_REGISTER_KERNEL(bce_with_logits, kCPU, bce_with_logits_cpu);
RF_REGISTER_KERNEL(bce_with_logits_backward, kCPU, bce_with_logits_backward_cpu);
RF_REGISTER_KERNEL(softmax_cross_entropy, kCPU, softmax_cross_entropy_cpu);
RF_REGISTER_KERNEL(softmax_cross_entropy_backward, kCPU, softmax_cross_entropy_backward_cpu);
RF_REGISTER_KERNEL(softmax_rows, kCPU, softmax_rows_cpu);
RF_REGISTER_KERNEL(softmax_rows_backward, kCPU, softmax_rows_backward_cpu);
RF_REGISTER_KERNEL(layer_norm, kCPU, layer_norm_cpu);
RF_REGISTER_KERNEL(layer_norm_backward, kCPU, layer_norm_backward_cpu);
RF_REGISTER_KERNEL(l2_normalize_rows, kCPU, l2_normalize_rows_cpu);
RF_REGISTER_KERNEL(l2_normalize_rows_backward, kCPU, l2_normalize_rows_backward_cpu);
RF_REGISTER_KERNEL(dropout, kCPU, dropout_cpu);
RF_REGISTER_KERNEL(dropout_backward, kCPU, dropout_backward_cpu);

}  // namespace recforge::kernels
