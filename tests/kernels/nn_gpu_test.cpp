// CPU-vs-CUDA parity of every nn op (kernels/nn.hpp), of the Adam and Adagrad
// updates (kernels/optim.hpp), and of one autograd graph end to end.
//
// Every op runs once on the CPU (the reference) and once on CUDA on identical
// inputs, through the checked entry points. Elementwise results may differ by a
// few ulps (CUDA's libm, FMA contraction), hence |gpu - cpu| <= 1e-6 + 1e-5 |cpu|;
// float sums taken in a different order on each device get an absolute slack
// that grows with the number of terms; dropout masks must be identical.
//   - Forward outputs (contract =) start as different garbage on each device, so
//     an element that one side forgets to write cannot match.
//   - Backward outputs (contract +=) start as the same random values on both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "recforge/autograd/graph.hpp"
#include "recforge/autograd/ops.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/kernels/nn.hpp"
#include "recforge/kernels/optim.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/model/parameter.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge::kernels {
namespace {

constexpr std::uint64_t kSeed = 0x5eed2024;
constexpr double kAtol = 1e-6, kRtol = 1e-5;

// Absolute slack for a float sum of `terms` values of magnitude <= ~1 summed in
// a different order on each device (rounding errors grow with the partial sums).
double sum_atol(std::int64_t terms) { return kAtol * static_cast<double>(std::max<std::int64_t>(terms, 1)); }

// The CUDA result against the CPU result (failures point at the caller's line).
#define EXPECT_PARITY(pair, atol, rtol) \
  RF_EXPECT_TENSOR_NEAR((pair).device, (pair).host, (atol), (rtol)) << "tensor: " #pair

Tensor host_uniform(const Shape& shape, std::uint64_t stream, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  fill_uniform(Resources::cpu(), t, lo, hi, kSeed, stream);
  return t;
}

// Uniform values on the grid k / 1024 in [-1, 1]: sums of up to 2^13 of them are
// exact in float, so any summation order gives the same bits.
Tensor host_quantized(const Shape& shape, std::uint64_t stream) {
  Tensor t = host_uniform(shape, stream);
  float* p = t.data_as<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = std::round(p[i] * 1024.0f) / 1024.0f;
  return t;
}

Tensor host_filled(const Shape& shape, float value) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  std::fill_n(t.data_as<float>(), t.numel(), value);
  return t;
}

// n values in [0, classes).
Tensor host_classes(std::int64_t n, std::int64_t classes, std::uint64_t stream) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    v[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(
        philox_below(kSeed, stream, static_cast<std::uint64_t>(k), static_cast<std::uint32_t>(classes)));
  }
  return Tensor::from_vector(v);
}

// m distinct row ids out of [0, rows), in random order (as coalesced ids are unique).
Tensor host_unique_ids(std::int64_t m, std::int64_t rows, std::uint64_t stream) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(rows));
  std::iota(v.begin(), v.end(), 0);
  for (std::int64_t i = rows - 1; i > 0; --i) {
    const auto j = philox_below(kSeed, stream, static_cast<std::uint64_t>(i), static_cast<std::uint32_t>(i + 1));
    std::swap(v[static_cast<std::size_t>(i)], v[j]);
  }
  v.resize(static_cast<std::size_t>(m));
  return Tensor::from_vector(v);
}

// One tensor on each device; ops run on `on(res)`.
struct Pair {
  Tensor host, device;
  const Tensor& on(const Resources& res) const { return res.device().is_cpu() ? host : device; }
};

class GpuParity : public ::testing::Test {
 protected:
  void SetUp() override {
    RF_SKIP_WITHOUT_GPU();
    gpu_ = Resources::cuda(0);
  }

  // `host` and an independent copy of it on the GPU.
  Pair upload(const Tensor& host) const {
    Pair p{host, host.to(gpu_.device(), gpu_.stream())};
    gpu_.synchronize();  // the host copy may change (CPU ops work in place) or go away
    return p;
  }
  Pair uniform(const Shape& shape, std::uint64_t stream, float lo = -1.0f, float hi = 1.0f) const {
    return upload(host_uniform(shape, stream, lo, hi));
  }
  // A forward output: different garbage on each device.
  Pair output(const Shape& shape) const {
    return {host_filled(shape, -12345.0f),
            upload(host_filled(shape, std::numeric_limits<float>::quiet_NaN())).device};
  }

  // Runs `op(res)` on the CPU, then on CUDA, and waits for the GPU.
  template <class Op>
  void on_both(const Op& op) const {
    gpu_.synchronize();
    op(cpu_);
    op(gpu_);
    gpu_.synchronize();
  }

  const Resources cpu_ = Resources::cpu();
  Resources gpu_;
};

struct Case {
  std::int64_t n, d;
  friend void PrintTo(const Case& c, std::ostream* os) { *os << "(" << c.n << ", " << c.d << ")"; }
};

class NnParity : public GpuParity, public ::testing::WithParamInterface<Case> {};

// ---- elementwise ---------------------------------------------------------

TEST_P(NnParity, Activations) {
  const auto [n, d] = GetParam();
  for (const Activation f : {Activation::kRelu, Activation::kGelu, Activation::kSigmoid, Activation::kLogSigmoid,
                             Activation::kTanh}) {
    SCOPED_TRACE("activation " + std::to_string(static_cast<int>(f)));
    const Pair x = uniform({n, d}, 1, -5.0f, 5.0f);
    const Pair y = output({n, d});
    on_both([&](const Resources& r) { activation_forward(r, f, x.on(r), y.on(r)); });
    EXPECT_PARITY(y, kAtol, kRtol);

    // The backward sees the same y on both devices (the CPU's).
    const Pair y_ref = upload(y.host), dy = uniform({n, d}, 2), dx = uniform({n, d}, 3);
    on_both([&](const Resources& r) { activation_backward(r, f, x.on(r), y_ref.on(r), dy.on(r), dx.on(r)); });
    EXPECT_PARITY(dx, kAtol, kRtol);
    // Stored into a new buffer (autograd's first contribution): its garbage never shows.
    const Pair dx_new = output({n, d});
    on_both([&](const Resources& r) {
      activation_backward(r, f, x.on(r), y_ref.on(r), dy.on(r), dx_new.on(r), /*accumulate=*/false);
    });
    EXPECT_PARITY(dx_new, kAtol, kRtol);
  }
}

TEST_P(NnParity, BinaryAxpyMulAccumulateScale) {
  const auto [n, d] = GetParam();
  const Pair a = uniform({n, d}, 4), b = uniform({n, d}, 5);
  for (const Binary op : {Binary::kAdd, Binary::kSub, Binary::kMul}) {
    SCOPED_TRACE("binary " + std::to_string(static_cast<int>(op)));
    const Pair y = output({n, d});
    on_both([&](const Resources& r) { binary(r, op, a.on(r), b.on(r), y.on(r)); });
    EXPECT_PARITY(y, kAtol, kRtol);
  }
  const Pair axpy_y = uniform({n, d}, 6);
  on_both([&](const Resources& r) { axpy(r, -0.75f, a.on(r), axpy_y.on(r)); });
  EXPECT_PARITY(axpy_y, kAtol, kRtol);

  const Pair mul_y = uniform({n, d}, 7);
  on_both([&](const Resources& r) { mul_accumulate(r, a.on(r), b.on(r), mul_y.on(r)); });
  EXPECT_PARITY(mul_y, kAtol, kRtol);

  const Pair scaled = output({n, d});
  on_both([&](const Resources& r) { scale(r, 1.5f, a.on(r), scaled.on(r)); });
  EXPECT_PARITY(scaled, kAtol, kRtol);
}

// ---- rows and columns ----------------------------------------------------

TEST_P(NnParity, BiasAdd) {
  const auto [n, d] = GetParam();
  const Pair x = uniform({n, d}, 8), b = uniform({d}, 9), y = output({n, d});
  on_both([&](const Resources& r) { bias_add(r, x.on(r), b.on(r), y.on(r)); });
  EXPECT_PARITY(y, kAtol, kRtol);
}

TEST_P(NnParity, SumRowsAccumulate) {
  const auto [n, d] = GetParam();
  {
    SCOPED_TRACE("random values");
    const Pair dy = uniform({n, d}, 10), db = uniform({d}, 11);
    on_both([&](const Resources& r) { sum_rows_accumulate(r, dy.on(r), db.on(r)); });
    EXPECT_PARITY(db, sum_atol(n), kRtol);
  }
  {
    SCOPED_TRACE("values on a grid (exact sums in any order)");
    const Pair dy = upload(host_quantized({n, d}, 12)), db = upload(host_quantized({d}, 13));
    on_both([&](const Resources& r) { sum_rows_accumulate(r, dy.on(r), db.on(r)); });
    EXPECT_PARITY(db, 0.0, 0.0);
  }
}

TEST_P(NnParity, RowwiseDot) {
  const auto [n, d] = GetParam();
  const Pair a = uniform({n, d}, 14), b = uniform({n, d}, 15), y = output({n});
  on_both([&](const Resources& r) { rowwise_dot(r, a.on(r), b.on(r), y.on(r)); });
  EXPECT_PARITY(y, sum_atol(d), kRtol);
}

TEST_P(NnParity, ScaleRowsAccumulate) {
  const auto [n, d] = GetParam();
  const Pair x = uniform({n, d}, 16), s = uniform({n}, 17), y = uniform({n, d}, 18);
  on_both([&](const Resources& r) { scale_rows_accumulate(r, x.on(r), s.on(r), y.on(r)); });
  EXPECT_PARITY(y, kAtol, kRtol);
}

TEST_P(NnParity, CopyColumns) {
  const auto [n, d] = GetParam();
  // Columns [d/3, d) of src (n, d) to columns [2, 2 + width) of dst (n, d + 3):
  // offsets on both sides, and columns of dst that must stay untouched.
  const std::int64_t src_col = d / 3, width = d - src_col, dst_col = 2;
  const Pair src = uniform({n, d}, 19);
  for (const bool accumulate : {false, true}) {
    SCOPED_TRACE(accumulate ? "accumulate" : "copy");
    const Pair dst = uniform({n, d + 3}, 20);
    on_both([&](const Resources& r) { copy_columns(r, src.on(r), src_col, dst.on(r), dst_col, width, accumulate); });
    EXPECT_PARITY(dst, kAtol, kRtol);
  }
}

// ---- reductions ----------------------------------------------------------

TEST_P(NnParity, SumAllAndBroadcastAccumulate) {
  const auto [n, d] = GetParam();
  const Pair x = uniform({n, d}, 21), total = output({1});
  on_both([&](const Resources& r) { sum_all(r, x.on(r), total.on(r)); });
  EXPECT_PARITY(total, kAtol, kRtol);  // both accumulate in double

  const Pair dy = uniform({1}, 22), dx = uniform({n, d}, 23);
  on_both([&](const Resources& r) { broadcast_accumulate(r, dy.on(r), 0.5f, dx.on(r)); });
  EXPECT_PARITY(dx, kAtol, kRtol);
}

// More elements than one pass of the capped grid of block partials covers.
TEST_F(GpuParity, SumAllOfALargeTensor) {
  const Pair x = uniform({(1 << 20) + 7}, 24), total = output({1});
  on_both([&](const Resources& r) { sum_all(r, x.on(r), total.on(r)); });
  EXPECT_PARITY(total, kAtol, kRtol);
}

// ---- losses --------------------------------------------------------------

TEST_P(NnParity, BceWithLogits) {
  const auto [n, d] = GetParam();
  const Pair logits = uniform({n, d}, 25, -4.0f, 4.0f), targets = uniform({n, d}, 26, 0.0f, 1.0f);
  const Pair loss = output({n, d});
  on_both([&](const Resources& r) { bce_with_logits(r, logits.on(r), targets.on(r), loss.on(r)); });
  EXPECT_PARITY(loss, kAtol, kRtol);

  const Pair dloss = uniform({n, d}, 27), dlogits = uniform({n, d}, 28);
  on_both([&](const Resources& r) {
    bce_with_logits_backward(r, logits.on(r), targets.on(r), dloss.on(r), dlogits.on(r));
  });
  EXPECT_PARITY(dlogits, kAtol, kRtol);
}

TEST_P(NnParity, SoftmaxCrossEntropy) {
  const auto [n, c] = GetParam();
  const Pair logits = uniform({n, c}, 29, -4.0f, 4.0f), target = upload(host_classes(n, c, 30));
  const Pair probs = output({n, c}), loss = output({n});
  on_both([&](const Resources& r) { softmax_cross_entropy(r, logits.on(r), target.on(r), probs.on(r), loss.on(r)); });
  EXPECT_PARITY(probs, kAtol, kRtol);
  EXPECT_PARITY(loss, kAtol, kRtol);

  const Pair probs_ref = upload(probs.host), dloss = uniform({n}, 31), dlogits = uniform({n, c}, 32);
  on_both([&](const Resources& r) {
    softmax_cross_entropy_backward(r, probs_ref.on(r), target.on(r), dloss.on(r), dlogits.on(r));
  });
  EXPECT_PARITY(dlogits, kAtol, kRtol);
}

// ---- normalisation -------------------------------------------------------

TEST_P(NnParity, SoftmaxRows) {
  const auto [n, d] = GetParam();
  const Pair x = uniform({n, d}, 33, -4.0f, 4.0f), y = output({n, d});
  on_both([&](const Resources& r) { softmax_rows(r, x.on(r), y.on(r)); });
  EXPECT_PARITY(y, kAtol, kRtol);

  const Pair y_ref = upload(y.host), dy = uniform({n, d}, 34), dx = uniform({n, d}, 35);
  on_both([&](const Resources& r) { softmax_rows_backward(r, y_ref.on(r), dy.on(r), dx.on(r)); });
  EXPECT_PARITY(dx, kAtol, kRtol);
}

TEST_P(NnParity, LayerNorm) {
  const auto [n, d] = GetParam();
  constexpr float kEps = 1e-5f;
  // Rows with a non-zero mean, so the centring matters.
  const Pair x = uniform({n, d}, 36, -2.0f, 3.0f), gamma = uniform({d}, 37, 0.5f, 1.5f), beta = uniform({d}, 38);
  const Pair y = output({n, d}), mean = output({n}), rstd = output({n});
  on_both([&](const Resources& r) {
    layer_norm(r, x.on(r), gamma.on(r), beta.on(r), kEps, y.on(r), mean.on(r), rstd.on(r));
  });
  EXPECT_PARITY(y, kAtol, kRtol);
  EXPECT_PARITY(mean, kAtol, kRtol);
  EXPECT_PARITY(rstd, kAtol, kRtol);

  // The backward from the CPU's statistics on both devices.
  const Pair mean_ref = upload(mean.host), rstd_ref = upload(rstd.host), dy = uniform({n, d}, 39);
  const Pair dx = uniform({n, d}, 40), dgamma = uniform({d}, 41), dbeta = uniform({d}, 42);
  on_both([&](const Resources& r) {
    layer_norm_backward(r, x.on(r), gamma.on(r), mean_ref.on(r), rstd_ref.on(r), dy.on(r), dx.on(r), dgamma.on(r),
                        dbeta.on(r));
  });
  // dx = rstd (h - mean(h) - xhat mean(h xhat)) cancels terms and then scales by
  // rstd, up to ~30 for rows of 3 columns: a rounding difference grows with it.
  EXPECT_PARITY(dx, 32 * kAtol, kRtol);
  // Column sums over the rows (|dy * xhat| stays below ~2 for these inputs).
  EXPECT_PARITY(dgamma, 2.0 * sum_atol(n), kRtol);
  EXPECT_PARITY(dbeta, sum_atol(n), kRtol);
}

TEST_P(NnParity, L2NormalizeRows) {
  const auto [n, d] = GetParam();
  constexpr float kEps = 1e-6f;
  Tensor x_host = host_uniform({n, d}, 43);
  if (n >= 2) std::fill_n(x_host.data_as<float>() + d, d, 0.0f);  // row 1: norm clamped to eps
  const Pair x = upload(x_host), y = output({n, d}), norms = output({n});
  on_both([&](const Resources& r) { l2_normalize_rows(r, x.on(r), kEps, y.on(r), norms.on(r)); });
  EXPECT_PARITY(y, kAtol, kRtol);
  EXPECT_PARITY(norms, kAtol, kRtol);

  const Pair y_ref = upload(y.host), norms_ref = upload(norms.host);
  const Pair dy = uniform({n, d}, 44), dx = uniform({n, d}, 45);
  on_both([&](const Resources& r) {
    l2_normalize_rows_backward(r, x.on(r), y_ref.on(r), norms_ref.on(r), kEps, dy.on(r), dx.on(r));
  });
  EXPECT_PARITY(dx, kAtol, kRtol);

  // A row with a NaN is NaN on both (the GPU's fmaxf(NaN, eps) gave eps, and
  // the row's finite values / eps).
  Tensor with_nan = host_uniform({n, d}, 43);
  with_nan.data_as<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  const Pair xn = upload(with_nan), yn = output({n, d}), nn = output({n});
  on_both([&](const Resources& r) { l2_normalize_rows(r, xn.on(r), kEps, yn.on(r), nn.on(r)); });
  const Tensor y_gpu = yn.device.to(Device::cpu(), gpu_.stream()), n_gpu = nn.device.to(Device::cpu(), gpu_.stream());
  gpu_.synchronize();
  EXPECT_TRUE(std::isnan(nn.host.data_as<float>()[0]));
  EXPECT_TRUE(std::isnan(n_gpu.data_as<float>()[0]));
  for (std::int64_t c = 0; c < d; ++c) {
    EXPECT_TRUE(std::isnan(yn.host.data_as<float>()[c])) << c;
    EXPECT_TRUE(std::isnan(y_gpu.data_as<float>()[c])) << c;
  }
}

// ---- dropout -------------------------------------------------------------

TEST_P(NnParity, DropoutMasksAreIdentical) {
  const auto [n, d] = GetParam();
  const DropoutKey key{.seed = 1234, .stream = (7ULL << 32) | 3, .offset = 1000003};
  const Pair x = uniform({n, d}, 46), dy = uniform({n, d}, 47);
  for (const float p : {0.0f, 0.25f, 0.9f}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    const Pair y = output({n, d});
    on_both([&](const Resources& r) { dropout(r, x.on(r), p, key, y.on(r)); });
    EXPECT_PARITY(y, 0.0, 0.0);

    // Into zeros: exactly dy * mask / (1 - p), so the backward's mask is compared bit for bit.
    const Pair dx_zero = upload(Tensor::zeros({n, d}, DType::kF32));
    on_both([&](const Resources& r) { dropout_backward(r, dy.on(r), p, key, dx_zero.on(r)); });
    EXPECT_PARITY(dx_zero, 0.0, 0.0);
    // Stored over garbage: the same values.
    const Pair dx_new = output({n, d});
    on_both([&](const Resources& r) { dropout_backward(r, dy.on(r), p, key, dx_new.on(r), {}, /*accumulate=*/false); });
    EXPECT_PARITY(dx_new, 0.0, 0.0);
    EXPECT_EQ(dx_new.host.to_vector<float>(), dx_zero.host.to_vector<float>());

    const Pair dx = uniform({n, d}, 48);
    on_both([&](const Resources& r) { dropout_backward(r, dy.on(r), p, key, dx.on(r)); });
    EXPECT_PARITY(dx, kAtol, kRtol);

    // With the mask stored by the forward: the same outputs, and a backward
    // reading it gives what the recomputing one gave.
    const Pair y_masked = output({n, d}), mask = upload(Tensor::zeros({n, d}, DType::kU8));
    on_both([&](const Resources& r) { dropout(r, x.on(r), p, key, y_masked.on(r), mask.on(r)); });
    EXPECT_PARITY(y_masked, 0.0, 0.0);
    const Tensor device_mask = mask.device.to(Device::cpu(), gpu_.stream());
    gpu_.synchronize();
    EXPECT_EQ(device_mask.to_vector<std::uint8_t>(), mask.host.to_vector<std::uint8_t>());
    const Pair dx_masked = upload(Tensor::zeros({n, d}, DType::kF32));
    on_both([&](const Resources& r) { dropout_backward(r, dy.on(r), p, key, dx_masked.on(r), mask.on(r)); });
    EXPECT_PARITY(dx_masked, 0.0, 0.0);
    EXPECT_EQ(dx_masked.host.to_vector<float>(), dx_zero.host.to_vector<float>());
  }
}

// ---- optimizers ----------------------------------------------------------

TEST_P(NnParity, AdamDense) {
  const auto [n, d] = GetParam();
  for (const bool decoupled : {false, true}) {
    SCOPED_TRACE(decoupled ? "AdamW" : "Adam with L2");
    const Pair w = uniform({n, d}, 50), m = uniform({n, d}, 51, -0.1f, 0.1f), v = uniform({n, d}, 52, 0.0f, 0.01f);
    for (std::int64_t t = 1; t <= 3; ++t) {
      const Pair g = uniform({n, d}, 52 + static_cast<std::uint64_t>(t));
      const AdamOptions o{.lr = 1e-2f,
                          .weight_decay = decoupled ? 0.0f : 0.01f,
                          .decoupled_decay = decoupled ? 0.1f : 0.0f,
                          .step = t};
      on_both([&](const Resources& r) { adam_dense(r, w.on(r), g.on(r), m.on(r), v.on(r), o); });
    }
    EXPECT_PARITY(w, kAtol, kRtol);
    EXPECT_PARITY(m, kAtol, kRtol);
    EXPECT_PARITY(v, kAtol, kRtol);
  }
}

TEST_P(NnParity, AdamRows) {
  const auto [n, d] = GetParam();
  const std::int64_t rows = 2 * n + 3;  // rows no step touches must stay as they were
  for (const bool decoupled : {false, true}) {
    SCOPED_TRACE(decoupled ? "AdamW" : "Adam with L2");
    const Pair table = uniform({rows, d}, 60), m = uniform({rows, d}, 61, -0.1f, 0.1f),
               v = uniform({rows, d}, 62, 0.0f, 0.01f);
    for (std::int64_t t = 1; t <= 3; ++t) {
      const auto s = static_cast<std::uint64_t>(t);
      const Pair ids = upload(host_unique_ids(n, rows, 62 + s)), g = uniform({n, d}, 65 + s);
      const AdamOptions o{.lr = 1e-2f,
                          .weight_decay = decoupled ? 0.0f : 0.01f,
                          .decoupled_decay = decoupled ? 0.1f : 0.0f,
                          .step = 10 * t};
      on_both([&](const Resources& r) { adam_rows(r, table.on(r), m.on(r), v.on(r), ids.on(r), g.on(r), o); });
    }
    EXPECT_PARITY(table, kAtol, kRtol);
    EXPECT_PARITY(m, kAtol, kRtol);
    EXPECT_PARITY(v, kAtol, kRtol);
  }
}

TEST_P(NnParity, AdagradDense) {
  const auto [n, d] = GetParam();
  const Pair w = uniform({n, d}, 70), s = uniform({n, d}, 71, 0.0f, 0.5f);
  for (std::uint64_t t = 1; t <= 3; ++t) {
    const Pair g = uniform({n, d}, 71 + t);
    const AdagradOptions o{.lr = 0.05f, .eps = 1e-10f, .weight_decay = 0.01f};
    on_both([&](const Resources& r) { adagrad_dense(r, w.on(r), g.on(r), s.on(r), o); });
  }
  EXPECT_PARITY(w, kAtol, kRtol);
  EXPECT_PARITY(s, kAtol, kRtol);
}

TEST_P(NnParity, AdagradRows) {
  const auto [n, d] = GetParam();
  const std::int64_t rows = 2 * n + 3;
  const Pair table = uniform({rows, d}, 80), s = uniform({rows, d}, 81, 0.0f, 0.5f);
  for (std::uint64_t t = 1; t <= 3; ++t) {
    const Pair ids = upload(host_unique_ids(n, rows, 81 + t)), g = uniform({n, d}, 84 + t);
    const AdagradOptions o{.lr = 0.05f, .eps = 1e-10f, .weight_decay = 0.01f};
    on_both([&](const Resources& r) { adagrad_rows(r, table.on(r), s.on(r), ids.on(r), g.on(r), o); });
  }
  EXPECT_PARITY(table, kAtol, kRtol);
  EXPECT_PARITY(s, kAtol, kRtol);
}

// Empty, single rows, widths below, at and above a warp and not multiples of
// 32, and more than 256 rows (several chunks of the deterministic column sums).
INSTANTIATE_TEST_SUITE_P(Shapes, NnParity,
                         ::testing::Values(Case{0, 16}, Case{1, 1}, Case{1, 33}, Case{7, 33}, Case{300, 65},
                                           Case{1000, 128}, Case{4099, 3}),
                         [](const auto& info) {
                           return "n" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.d);
                         });

// ---- autograd ------------------------------------------------------------

// Gradients of one step of a small recommender: two embedding lookups ->
// concat -> linear -> relu -> linear -> BCE with logits -> sum.
struct StepGradients {
  Tensor loss, w1, b1, w2, b2;
  SparseRows users, items;
};

constexpr std::int64_t kBatch = 37, kDim = 8, kHidden = 24, kUsers = 20, kItems = 30;

StepGradients run_step(const Resources& res) {
  // Identical values on every device: generated on the host, then copied.
  const auto on = [&](const Tensor& host) { return host.to(res.device(), res.stream()); };
  std::vector<float> labels(static_cast<std::size_t>(kBatch));
  for (std::int64_t k = 0; k < kBatch; ++k) {
    labels[static_cast<std::size_t>(k)] = static_cast<float>(philox_below(kSeed, 99, static_cast<std::uint64_t>(k), 2));
  }
  Parameter users("users", on(host_uniform({kUsers, kDim}, 90, -0.5f, 0.5f)), Parameter::Kind::kEmbedding);
  Parameter items("items", on(host_uniform({kItems, kDim}, 91, -0.5f, 0.5f)), Parameter::Kind::kEmbedding);
  Parameter w1("w1", on(host_uniform({2 * kDim, kHidden}, 92, -0.5f, 0.5f)), Parameter::Kind::kDense);
  Parameter b1("b1", on(host_uniform({kHidden}, 93, -0.1f, 0.1f)), Parameter::Kind::kDense);
  Parameter w2("w2", on(host_uniform({kHidden, 1}, 94, -0.5f, 0.5f)), Parameter::Kind::kDense);
  Parameter b2("b2", on(host_uniform({1}, 95, -0.1f, 0.1f)), Parameter::Kind::kDense);
  const Tensor user_ids = on(host_classes(kBatch, kUsers, 96)), item_ids = on(host_classes(kBatch, kItems, 97));
  const Tensor targets = on(Tensor::from_vector(labels));
  // The gradients are allocated (zeroed) on the graph's stream by backward.

  ag::Graph g(res);
  const ag::Var x = ag::concat_columns({g.embedding(users, user_ids), g.embedding(items, item_ids)});
  const ag::Var h = ag::relu(ag::linear(x, g.parameter(w1), g.parameter(b1)));
  const ag::Var logits = ag::reshape(ag::linear(h, g.parameter(w2), g.parameter(b2)), Shape{kBatch});
  const ag::Var loss = ag::sum(ag::bce_with_logits(logits, targets));
  g.backward(loss, 1.0f / static_cast<float>(kBatch));
  res.synchronize();
  return {loss.value(), w1.grad(), b1.grad(), w2.grad(), b2.grad(), users.rows(), items.rows()};
}

void expect_same_rows(const SparseRows& gpu, const SparseRows& cpu, const Resources& res, const char* table) {
  SCOPED_TRACE(table);
  ASSERT_EQ(gpu.size(), cpu.size());
  const Tensor ids = gpu.ids.to(Device::cpu(), res.stream());
  res.synchronize();
  EXPECT_EQ(ids.to_vector<std::int32_t>(), cpu.ids.to_vector<std::int32_t>());
  RF_EXPECT_TENSOR_NEAR(gpu.values, cpu.values, kAtol, kRtol);
}

TEST_F(GpuParity, AutogradStepGradientsMatchTheCpu) {
  const StepGradients cpu = run_step(cpu_);
  const StepGradients gpu = run_step(gpu_);
  ASSERT_EQ(cpu.users.size(), kBatch);
  RF_EXPECT_TENSOR_NEAR(gpu.loss, cpu.loss, kAtol, kRtol);
  RF_EXPECT_TENSOR_NEAR(gpu.w1, cpu.w1, kAtol, kRtol);
  RF_EXPECT_TENSOR_NEAR(gpu.b1, cpu.b1, kAtol, kRtol);
  RF_EXPECT_TENSOR_NEAR(gpu.w2, cpu.w2, kAtol, kRtol);
  RF_EXPECT_TENSOR_NEAR(gpu.b2, cpu.b2, kAtol, kRtol);
  expect_same_rows(gpu.users, cpu.users, gpu_, "users");
  expect_same_rows(gpu.items, cpu.items, gpu_, "items");
  // A gradient that is not all zeros: the comparison above means something.
  const std::vector<float> w1 = cpu.w1.to_vector<float>();
  EXPECT_TRUE(std::any_of(w1.begin(), w1.end(), [](float v) { return v != 0.0f; }));
}

}  // namespace
}  // namespace recforge::kernels
