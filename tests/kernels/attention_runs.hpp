// Runs one causal self-attention (fused or composed) forward and backward on a
// device and brings back the output and the three input gradients, for the
// fused-vs-composed and CPU-vs-CUDA parity tests.
#pragma once

#include <memory>
#include <ostream>

#include "recforge/autograd/ops.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/kernels/fused_attention.hpp"
#include "recforge/model/parameter.hpp"

namespace recforge::testing {

struct AttentionCase {
  std::int64_t sequences, length, dim, heads;
  float dropout;
};

inline void PrintTo(const AttentionCase& c, std::ostream* os) {
  *os << c.sequences << " sequences of " << c.length << ", d " << c.dim << ", " << c.heads << " heads, dropout "
      << c.dropout;
}

struct AttentionResult {
  Tensor out, dq, dk, dv;
};

inline Tensor uniform_tensor(const Shape& shape, std::uint64_t stream, float scale = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data_as<float>()[i] = scale * (philox_uniform(23, stream, static_cast<std::uint64_t>(i)) - 0.5f);
  }
  return t;
}

using AttentionFn = ag::Var (*)(const ag::Var&, const ag::Var&, const ag::Var&, std::int64_t, std::int64_t, float,
                                const kernels::DropoutKey&, const Tensor&);

// L = sum(w * attention(q, k, v)) with fixed random q, k, v, w (scaled so the
// softmax is far from uniform); gradients by backward. With `begin` (one per
// sequence) the positions before it are padding: their keys are masked, w is 0
// on their rows (their outputs are never read) and their outputs come back 0.
inline AttentionResult run_attention(const Resources& res, AttentionFn attention, const AttentionCase& c,
                                     const std::vector<std::int32_t>& begin = {}) {
  const Shape shape{c.sequences * c.length, c.dim};
  std::unique_ptr<Parameter> q, k, v;
  for (auto [p, stream] : {std::pair{&q, 1}, std::pair{&k, 2}, std::pair{&v, 3}}) {
    *p = std::make_unique<Parameter>("x", uniform_tensor(shape, stream, 4.0f).to(res.device(), res.stream()),
                                     Parameter::Kind::kDense);
  }
  // Zero on the padding rows of each sequence.
  const auto unpadded = [&](Tensor t) {
    for (std::size_t s = 0; s < begin.size(); ++s) {
      std::fill_n(t.data_as<float>() + static_cast<std::int64_t>(s) * c.length * c.dim, begin[s] * c.dim, 0.0f);
    }
    return t;
  };
  const Tensor sequence_begin = begin.empty() ? Tensor() : Tensor::from_vector(begin).to(res.device(), res.stream());
  ag::Graph g(res);
  const ag::Var out = attention(g.parameter(*q), g.parameter(*k), g.parameter(*v), c.sequences, c.heads, c.dropout,
                                {7, 11, 13 * static_cast<std::uint64_t>(c.length * c.length)}, sequence_begin);
  const Tensor w = unpadded(uniform_tensor(shape, 4)).to(res.device(), res.stream());
  g.backward(ag::sum(ag::mul(out, g.constant(w))));
  const auto host = [&](const Tensor& t) { return t.to(Device::cpu(), res.stream()); };
  AttentionResult r{host(out.value()), host(q->grad()), host(k->grad()), host(v->grad())};
  res.synchronize();
  r.out = unpadded(std::move(r.out));
  return r;
}

// The fused kernels called directly (forward, then backward with `dout`) on
// `res`'s device; everything comes back to the CPU.
struct FusedKernelRun {
  Tensor out, lse, dq, dk, dv;
};

inline FusedKernelRun run_fused_kernels(const Resources& res, const Tensor& q, const Tensor& k, const Tensor& v,
                                        const Tensor& dout, kernels::AttentionOptions options,
                                        const Tensor& sequence_begin = Tensor()) {
  const auto on_device = [&](const Tensor& t) { return t.to(res.device(), res.stream()); };
  const Tensor device_begin = sequence_begin.view().data != nullptr ? on_device(sequence_begin) : Tensor();
  options.sequence_begin = device_begin.view();
  const Shape shape = q.shape();
  const auto zeros = [&](const Shape& s) { return Tensor::zeros(s, DType::kF32, res.device(), res.stream()); };
  Tensor out = zeros(shape), lse = zeros({shape[0], options.heads}), dq = zeros(shape), dk = zeros(shape),
         dv = zeros(shape);
  const Tensor device_q = on_device(q), device_k = on_device(k), device_v = on_device(v);
  kernels::fused_causal_attention(res, device_q, device_k, device_v, options, out, lse);
  kernels::fused_causal_attention_backward(res, device_q, device_k, device_v, out, lse, on_device(dout), options, dq,
                                           dk, dv);
  const auto host = [&](const Tensor& t) { return t.to(Device::cpu(), res.stream()); };
  FusedKernelRun r{host(out), host(lse), host(dq), host(dk), host(dv)};
  res.synchronize();
  return r;
}

}  // namespace recforge::testing
