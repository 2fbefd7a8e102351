// Gradient buffers of a step: a new buffer's first contribution is stored
// (Graph::grad_slot), later ones are added. The host allocator hands back
// freed blocks with their old contents, so a first contribution that were
// added would read stale memory, and a later one that were stored would drop
// the earlier contributions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "recforge/autograd/ops.hpp"
#include "recforge/core/philox.hpp"

namespace recforge::ag {
namespace {

Tensor random_tensor(const Shape& shape, std::uint64_t stream, float scale) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data_as<float>()[i] = scale * (2.0f * philox_uniform(23, stream, static_cast<std::uint64_t>(i)) - 1.0f);
  }
  return t;
}

// Fills the host allocator's cache with NaN blocks of the step's sizes (the
// cache holds blocks of 64 KiB and more; every activation and weight here is
// one, the bias aside).
void poison_the_allocator_cache(const Resources& res) {
  std::vector<Tensor> blocks;
  for (const std::int64_t floats : {256 * 64, 256 * 128, 256 * 192, 128 * 128, 192 * 128}) {
    for (int k = 0; k < 64; ++k) {
      blocks.push_back(Tensor::empty({floats}, DType::kF32, res.allocator(), res.stream()));
      std::fill_n(blocks.back().data_as<float>(), floats, std::numeric_limits<float>::quiet_NaN());
    }
  }
}

// A ring of 256 nodes: row i has i and i + 1 (weights 0.5 and 0.25).
SparseMatrix ring(bool transposed) {
  std::vector<std::int64_t> offsets = {0};
  std::vector<std::int32_t> columns;
  std::vector<float> values;
  for (std::int32_t i = 0; i < 256; ++i) {
    const std::int32_t next = (i + 1) % 256, previous = (i + 255) % 256;
    const std::int32_t other = transposed ? previous : next;
    if (other < i) {
      columns.insert(columns.end(), {other, i});
      values.insert(values.end(), {0.25f, 0.5f});
    } else {
      columns.insert(columns.end(), {i, other});
      values.insert(values.end(), {0.5f, 0.25f});
    }
    offsets.push_back(static_cast<std::int64_t>(columns.size()));
  }
  return {Tensor::from_vector(offsets), Tensor::from_vector(columns), Tensor::from_vector(values), 256, 256};
}

struct Model {
  std::vector<std::unique_ptr<Parameter>> params;
  Tensor weights = random_tensor({256, 128}, 9, 1.0f);
  SparseMatrix a = ring(false), a_transposed = ring(true);

  Model() {
    const std::vector<Shape> shapes = {{256, 128}, {128, 128}, {192, 128}, {128}};
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      params.push_back(std::make_unique<Parameter>("p" + std::to_string(k), random_tensor(shapes[k], k + 1, 0.5f),
                                                   Parameter::Kind::kDense));
    }
  }

  // Every op whose backward stores into a new slot, with inputs used twice
  // (x, h, s, m) so that stores and adds meet in one buffer. The dropout mask
  // is fixed by its key, so the loss is a function of the parameters alone.
  Var loss(Graph& g) {
    const Var x = g.parameter(*params[0]), w = g.parameter(*params[1]);
    const Var h = matmul(x, w);
    const Var s = add(h, scale(x, 0.5f));
    const Var m = mul(s, s);
    const Var r = reshape(m, Shape{4, 64, 128});
    const Var scores = causal_mask(batched_matmul(r, r, true, 0.125f));
    const Var p = softmax_rows(reshape(scores, Shape{256, 64}));
    const Var c = concat_columns({p, dropout(gelu(sub(m, h)), 0.25f, {7, 8, 9})});
    const Var y = linear(c, g.parameter(*params[2]), g.parameter(*params[3]));
    return sum(mul(spmm(a, a_transposed, y), g.constant(weights)));
  }

  double value_at(const Resources& res) {
    Graph g(res);
    return loss(g).value().data_as<float>()[0];
  }

  std::vector<std::vector<float>> gradients(const Resources& res) {
    for (auto& p : params) p->zero_grad(res.stream());
    Graph g(res);
    g.backward(loss(g));
    std::vector<std::vector<float>> grads;
    for (auto& p : params) grads.push_back(p->grad().to_vector<float>());
    return grads;
  }
};

TEST(Autograd, NewGradientBuffersAreStoredOverStaleMemory) {
  const Resources res = Resources::cpu();
  Model model;
  poison_the_allocator_cache(res);
  const auto first = model.gradients(res);
  for (const auto& grad : first) {
    for (const float v : grad) ASSERT_TRUE(std::isfinite(v));
  }
  poison_the_allocator_cache(res);
  EXPECT_EQ(model.gradients(res), first);

  // The directional derivative along a random direction d: (L(p + e d) -
  // L(p - e d)) / 2e against <grad, d>. A contribution stored over an earlier
  // one (instead of added) breaks it.
  double predicted = 0;
  std::vector<Tensor> directions;
  for (std::size_t k = 0; k < model.params.size(); ++k) {
    directions.push_back(random_tensor(model.params[k]->value().shape(), 100 + k, 1.0f));
    const float* d = directions.back().data_as<float>();
    for (std::size_t i = 0; i < first[k].size(); ++i) predicted += static_cast<double>(first[k][i]) * d[i];
  }
  const auto step_all = [&](float e) {
    for (std::size_t k = 0; k < model.params.size(); ++k) {
      float* v = model.params[k]->value().data_as<float>();
      const float* d = directions[k].data_as<float>();
      for (std::int64_t i = 0; i < directions[k].numel(); ++i) v[i] += e * d[i];
    }
  };
  const float e = 1e-2f;
  step_all(e);
  const double up = model.value_at(res);
  step_all(-2.0f * e);
  const double down = model.value_at(res);
  step_all(e);
  const double numeric = (up - down) / (2.0 * e);
  EXPECT_NEAR(numeric, predicted, 1e-2 * std::fabs(predicted)) << "up " << up << ", down " << down;
}

// A rank whose share of the last batch is empty still runs the step: its
// weight gradients are products over zero rows (x^T dy with K = 0), stored
// into new buffers, and must be zeros, not the allocator's old contents.
TEST(Autograd, AnEmptyBatchGivesZeroGradients) {
  const Resources res = Resources::cpu();
  Parameter weight("w", random_tensor({128, 128}, 1, 0.5f), Parameter::Kind::kDense);
  Parameter bias("b", random_tensor({128}, 2, 0.5f), Parameter::Kind::kDense);
  poison_the_allocator_cache(res);
  Graph g(res);
  const Var x = g.constant(Tensor::empty({0, 128}, DType::kF32));
  g.backward(sum(linear(x, g.parameter(weight), g.parameter(bias))));
  EXPECT_EQ(weight.grad().to_vector<float>(), std::vector<float>(128 * 128, 0.0f));
  EXPECT_EQ(bias.grad().to_vector<float>(), std::vector<float>(128, 0.0f));
}

}  // namespace
}  // namespace recforge::ag
