// CPU reference kernels for MF (see mf_kernels.hpp for the formulas).
#include <cmath>

#include "mf_kernels.hpp"

namespace recforge::mf {

void check_step_args(const Resources& res, const Tables& t, const Batch& b, const Grads& g, bool bpr) {
  const std::int64_t n = b.user.numel();
  const std::int64_t d = t.user.ndim() == 2 ? t.user.shape[1] : -1;
  RF_CHECK(t.user.ndim() == 2 && t.item.ndim() == 2 && t.item.shape[1] == d, "mf: user ", t.user.shape.str(),
           " and item ", t.item.shape.str(), " tables must be (rows, D) with the same D");
  check_dtype("mf batch users", b.user, DType::kI32);
  check_dtype("mf batch items", b.item, DType::kI32);
  RF_CHECK(b.item.numel() == n, "mf: ", n, " users but ", b.item.numel(), " items in the batch");
  check_shape("mf grad user", g.user, Shape{n, d});
  check_shape("mf grad item", g.item, Shape{n, d});
  check_shape("mf grad item_bias", g.item_bias, Shape{n, 1});
  check_shape("mf loss", g.loss, Shape{n});
  if (bpr) {
    check_dtype("mf batch negatives", b.negative, DType::kI32);
    RF_CHECK(b.negative.numel() == n, "mf bpr: ", b.negative.numel(), " negatives for ", n, " positives");
    check_shape("mf grad negative", g.negative, Shape{n, d});
    check_shape("mf grad negative_bias", g.negative_bias, Shape{n, 1});
  } else {
    check_dtype("mf batch ratings", b.rating, DType::kF32);
    RF_CHECK(b.rating.numel() == n, "mf mse: ", b.rating.numel(), " ratings for ", n, " pairs");
    check_shape("mf grad user_bias", g.user_bias, Shape{n, 1});
    check_shape("mf grad global_bias", g.global_bias, Shape{n});
    check_shape("mf global_bias", t.global_bias, Shape{1});
    RF_CHECK(t.global_bias.device == res.device(), "mf: the global bias is on ", t.global_bias.device.str(),
             " but the resources on ", res.device().str());
  }
  for (const TensorView* v : {&t.user, &t.item, &b.user, &b.item, &g.user, &g.item, &g.loss}) {
    RF_CHECK(v->device == res.device(), "mf: a tensor is on ", v->device.str(), " but the resources on ",
             res.device().str());
  }
}

namespace {

float dot(const float* a, const float* b, std::int64_t d) {
  float s = 0.0f;
  for (std::int64_t k = 0; k < d; ++k) s += a[k] * b[k];
  return s;
}

void mse_step_cpu(const Resources&, const Tables& t, const Batch& b, const Grads& g, float scale, float reg) {
  const std::int64_t n = b.user.numel(), d = t.user.shape[1];
  const float* P = t.user.data_as<float>();
  const float* Q = t.item.data_as<float>();
  const float* bu = t.user_bias.data_as<float>();
  const float* bi = t.item_bias.data_as<float>();
  const std::int32_t* users = b.user.data_as<std::int32_t>();
  const std::int32_t* items = b.item.data_as<std::int32_t>();
  const float* r = b.rating.data_as<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < n; ++e) {
    const float* p = P + static_cast<std::int64_t>(users[e]) * d;
    const float* q = Q + static_cast<std::int64_t>(items[e]) * d;
    const float err = t.global_bias.data_as<float>()[0] + bu[users[e]] + bi[items[e]] + dot(p, q, d) - r[e];
    g.loss.data_as<float>()[e] = err * err;
    float* dp = g.user.data_as<float>() + e * d;
    float* dq = g.item.data_as<float>() + e * d;
    for (std::int64_t k = 0; k < d; ++k) {
      dp[k] = scale * (2.0f * err * q[k] + 2.0f * reg * p[k]);
      dq[k] = scale * (2.0f * err * p[k] + 2.0f * reg * q[k]);
    }
    g.user_bias.data_as<float>()[e] = scale * (2.0f * err + 2.0f * reg * bu[users[e]]);
    g.item_bias.data_as<float>()[e] = scale * (2.0f * err + 2.0f * reg * bi[items[e]]);
    g.global_bias.data_as<float>()[e] = scale * 2.0f * err;
  }
}

void bpr_step_cpu(const Resources&, const Tables& t, const Batch& b, const Grads& g, float scale, float reg) {
  const std::int64_t n = b.user.numel(), d = t.user.shape[1];
  const float* P = t.user.data_as<float>();
  const float* Q = t.item.data_as<float>();
  const float* bi = t.item_bias.data_as<float>();
  const std::int32_t* users = b.user.data_as<std::int32_t>();
  const std::int32_t* items = b.item.data_as<std::int32_t>();
  const std::int32_t* negatives = b.negative.data_as<std::int32_t>();
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < n; ++e) {
    const float* p = P + static_cast<std::int64_t>(users[e]) * d;
    const float* qi = Q + static_cast<std::int64_t>(items[e]) * d;
    const float* qj = Q + static_cast<std::int64_t>(negatives[e]) * d;
    float x = bi[items[e]] - bi[negatives[e]];
    for (std::int64_t k = 0; k < d; ++k) x += p[k] * (qi[k] - qj[k]);
    // softplus(-x) computed without overflow for large |x|.
    g.loss.data_as<float>()[e] = x > 0 ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x));
    const float c = 1.0f / (1.0f + std::exp(-x)) - 1.0f;
    float* dp = g.user.data_as<float>() + e * d;
    float* dqi = g.item.data_as<float>() + e * d;
    float* dqj = g.negative.data_as<float>() + e * d;
    for (std::int64_t k = 0; k < d; ++k) {
      dp[k] = scale * (c * (qi[k] - qj[k]) + 2.0f * reg * p[k]);
      dqi[k] = scale * (c * p[k] + 2.0f * reg * qi[k]);
      dqj[k] = scale * (-c * p[k] + 2.0f * reg * qj[k]);
    }
    g.item_bias.data_as<float>()[e] = scale * (c + 2.0f * reg * bi[items[e]]);
    g.negative_bias.data_as<float>()[e] = scale * (-c + 2.0f * reg * bi[negatives[e]]);
  }
}

}  // namespace

RF_REGISTER_KERNEL(mf_mse_step, kCPU, mse_step_cpu);
RF_REGISTER_KERNEL(mf_bpr_step, kCPU, bpr_step_cpu);

}  // namespace recforge::mf
