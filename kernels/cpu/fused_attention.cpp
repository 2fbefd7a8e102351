// CPU fused causal attention (see fused_attention.hpp). One task per
// (sequence, head) on the OpenMP threads, each with its own scratch and one
// BLAS thread. Query rows go in blocks of kRowBlock; a block's keys stop at its
// last row (causality), so the products cover a staircase under the diagonal
// instead of the full L x L square. Rows before sequence_begin (padding) drop
// whole blocks before the one holding it, and the keys before it are masked.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "recforge/core/philox.hpp"
#include "recforge/kernels/cpu_blas.hpp"
#include "recforge/kernels/fused_attention.hpp"
#include "recforge/kernels/vector_exp.hpp"

namespace recforge::kernels {
namespace {

constexpr std::int64_t kRowBlock = 32;

// Where one (sequence, head) task reads and writes: row i of a head's matrix
// is at base + i * d, dh columns wide.
struct HeadSlice {
  std::int64_t l, d, dh;
  std::int64_t row0;  // the sequence's first row
  std::int64_t col0;  // the head's first column
  std::int64_t at(std::int64_t i) const { return (row0 + i) * d + col0; }
};

// Dropout factor of weights (i, j), j = 0 .. count - 1, of one head and
// sequence: 0 (dropped) or 1 / (1 - p), keyed as the composed op keys it.
void dropout_factors(const AttentionOptions& o, std::int64_t head, std::int64_t l, std::int64_t sequence_row,
                     std::int64_t count, float* factor) {
  const float keep_scale = 1.0f / (1.0f - o.dropout);
  const std::uint64_t first = o.key.offset + static_cast<std::uint64_t>(sequence_row * l);
  philox_for_each_word(o.key.seed, o.key.stream + static_cast<std::uint64_t>(head), first,
                       static_cast<std::uint64_t>(count), [&](std::uint64_t j, std::uint32_t word) {
                         factor[j] = philox_word_uniform(word) >= o.dropout ? keep_scale : 0.0f;
                       });
}

// S (m, keys) = scale * Q[i0 .. i0 + m) K[0 .. keys)^T.
void scores(const HeadSlice& h, const float* q, const float* k, std::int64_t i0, std::int64_t m, std::int64_t keys,
            float scale, float* s) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(keys),
              static_cast<int>(h.dh), scale, q + h.at(i0), static_cast<int>(h.d), k + h.at(0), static_cast<int>(h.d),
              0.0f, s, static_cast<int>(keys));
}

// A sequence's first position holding an item (sequence_begin; 0 without it),
// and the start of the row block that holds it.
std::int64_t sequence_begin(const AttentionOptions& o, std::int64_t sequence, std::int64_t l) {
  if (o.sequence_begin.data == nullptr) return 0;
  return std::clamp<std::int64_t>(o.sequence_begin.data_as<std::int32_t>()[sequence], 0, l);
}
std::int64_t first_block(std::int64_t begin) { return begin / kRowBlock * kRowBlock; }

void forward_head(const HeadSlice& h, std::int64_t sequence, std::int64_t head, const float* q, const float* k,
                  const float* v, const AttentionOptions& o, float* out, float* lse, std::vector<float>& s,
                  std::vector<float>& factor) {
  const std::int64_t begin = sequence_begin(o, sequence, h.l);
  for (std::int64_t i0 = first_block(begin); i0 < h.l; i0 += kRowBlock) {
    const std::int64_t m = std::min(kRowBlock, h.l - i0), keys = i0 + m;
    scores(h, q, k, i0, m, keys, o.scale, s.data());
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t i = i0 + r;
      float* row = s.data() + r * keys;
      if (i < begin) {  // a padding query: skipped (zeroed below)
        std::fill(row, row + keys, 0.0f);
        continue;
      }
      // Keys [begin, i]: the padding keys before begin are masked, as causality masks those after i.
      float top = row[begin];
#pragma omp simd reduction(max : top)
      for (std::int64_t j = begin + 1; j <= i; ++j) top = std::max(top, row[j]);
      float total = 0.0f;
#pragma omp simd reduction(+ : total)
      for (std::int64_t j = begin; j <= i; ++j) {
        row[j] = vector_exp(row[j] - top);
        total += row[j];
      }
      lse[(h.row0 + i) * o.heads + head] = top + std::log(total);
      const float inv = 1.0f / total;
      for (std::int64_t j = begin; j <= i; ++j) row[j] *= inv;
      std::fill(row, row + begin, 0.0f);
      std::fill(row + i + 1, row + keys, 0.0f);
      if (o.dropout > 0.0f) {
        dropout_factors(o, head, h.l, sequence * h.l + i, i + 1, factor.data());
        for (std::int64_t j = begin; j <= i; ++j) row[j] *= factor[static_cast<std::size_t>(j)];
      }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m), static_cast<int>(h.dh),
                static_cast<int>(keys), 1.0f, s.data(), static_cast<int>(keys), v + h.at(0), static_cast<int>(h.d),
                0.0f, out + h.at(i0), static_cast<int>(h.d));
  }
  for (std::int64_t i = 0; i < begin; ++i) {  // skipped rows (the first block's may have been computed)
    std::fill_n(out + h.at(i), h.dh, 0.0f);
    lse[(h.row0 + i) * o.heads + head] = 0.0f;
  }
}

struct BackwardScratch {
  std::vector<float> s, ds, factor;
};

void backward_head(const HeadSlice& h, std::int64_t sequence, std::int64_t head, const float* q, const float* k,
                   const float* v, const float* out, const float* lse, const float* dout, const AttentionOptions& o,
                   float* dq, float* dk, float* dv, BackwardScratch& w) {
  const int d = static_cast<int>(h.d), dh = static_cast<int>(h.dh);
  const std::int64_t begin = sequence_begin(o, sequence, h.l);
  for (std::int64_t i0 = first_block(begin); i0 < h.l; i0 += kRowBlock) {
    const std::int64_t m = std::min(kRowBlock, h.l - i0), keys = i0 + m;
    const int mi = static_cast<int>(m), ki = static_cast<int>(keys);
    scores(h, q, k, i0, m, keys, o.scale, w.s.data());
    // dP~ (m, keys) = dO V^T: the gradient of the weights after dropout.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mi, ki, dh, 1.0f, dout + h.at(i0), d, v + h.at(0), d, 0.0f,
                w.ds.data(), ki);
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t i = i0 + r;
      float* p = w.s.data() + r * keys;    // becomes the weights after dropout
      float* ds = w.ds.data() + r * keys;  // becomes scale * dS
      if (i < begin) {  // a skipped row passes no gradient
        std::fill(p, p + keys, 0.0f);
        std::fill(ds, ds + keys, 0.0f);
        continue;
      }
      const float row_lse = lse[(h.row0 + i) * o.heads + head];
      // sum_j dP_j P_j = dO_i . O_i (dropout included), so no pass over the row.
      float dot = 0.0f;
      for (std::int64_t c = 0; c < h.dh; ++c) dot += dout[h.at(i) + c] * out[h.at(i) + c];
      if (o.dropout > 0.0f) dropout_factors(o, head, h.l, sequence * h.l + i, i + 1, w.factor.data());
#pragma omp simd
      for (std::int64_t j = begin; j <= i; ++j) {
        const float weight = vector_exp(p[j] - row_lse);
        const float f = o.dropout > 0.0f ? w.factor[static_cast<std::size_t>(j)] : 1.0f;
        ds[j] = o.scale * weight * (ds[j] * f - dot);
        p[j] = weight * f;
      }
      std::fill(p, p + begin, 0.0f);  // masked padding keys: no weight, no gradient
      std::fill(ds, ds + begin, 0.0f);
      std::fill(p + i + 1, p + keys, 0.0f);
      std::fill(ds + i + 1, ds + keys, 0.0f);
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ki, dh, mi, 1.0f, w.s.data(), ki, dout + h.at(i0), d, 1.0f,
                dv + h.at(0), d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mi, dh, ki, 1.0f, w.ds.data(), ki, k + h.at(0), d, 1.0f,
                dq + h.at(i0), d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ki, dh, mi, 1.0f, w.ds.data(), ki, q + h.at(i0), d, 1.0f,
                dk + h.at(0), d);
  }
}

HeadSlice slice_of(const TensorView& q, const AttentionOptions& o, std::int64_t task) {
  const std::int64_t l = q.shape[0] / o.sequences, d = q.shape[1], dh = d / o.heads;
  const std::int64_t sequence = task / o.heads, head = task % o.heads;
  return {l, d, dh, sequence * l, head * dh};
}

void fused_causal_attention_cpu(const Resources&, const TensorView& q, const TensorView& k, const TensorView& v,
                                const AttentionOptions& o, TensorView out, TensorView lse) {
  const std::int64_t tasks = o.sequences * o.heads, l = q.shape[0] / o.sequences;
  use_one_blas_thread();
#pragma omp parallel if (tasks > 1)
  {
    std::vector<float> s(static_cast<std::size_t>(kRowBlock * l)), factor(static_cast<std::size_t>(l));
#pragma omp for schedule(dynamic)
    for (std::int64_t t = 0; t < tasks; ++t) {
      forward_head(slice_of(q, o, t), t / o.heads, t % o.heads, q.data_as<float>(), k.data_as<float>(),
                   v.data_as<float>(), o, out.data_as<float>(), lse.data_as<float>(), s, factor);
    }
  }
}

void fused_causal_attention_backward_cpu(const Resources&, const TensorView& q, const TensorView& k,
                                         const TensorView& v, const TensorView& out, const TensorView& lse,
                                         const TensorView& dout, const AttentionOptions& o, TensorView dq,
                                         TensorView dk, TensorView dv) {
  const std::int64_t tasks = o.sequences * o.heads, l = q.shape[0] / o.sequences;
  use_one_blas_thread();
#pragma omp parallel if (tasks > 1)
  {
    BackwardScratch w{std::vector<float>(static_cast<std::size_t>(kRowBlock * l)),
                      std::vector<float>(static_cast<std::size_t>(kRowBlock * l)),
                      std::vector<float>(static_cast<std::size_t>(l))};
#pragma omp for schedule(dynamic)
    for (std::int64_t t = 0; t < tasks; ++t) {
      backward_head(slice_of(q, o, t), t / o.heads, t % o.heads, q.data_as<float>(), k.data_as<float>(),
                    v.data_as<float>(), out.data_as<float>(), lse.data_as<float>(), dout.data_as<float>(), o,
                    dq.data_as<float>(), dk.data_as<float>(), dv.data_as<float>(), w);
    }
  }
}

bool fits_cpu(const Resources&, std::int64_t, std::int64_t) { return true; }  // scratch is per row block

}  // namespace

RF_REGISTER_KERNEL(fused_causal_attention, kCPU, fused_causal_attention_cpu);
RF_REGISTER_KERNEL(fused_causal_attention_backward, kCPU, fused_causal_attention_backward_cpu);
RF_REGISTER_KERNEL(fused_causal_attention_fits, kCPU, fits_cpu);

}  // namespace recforge::kernels
