// Finite-difference gradient checks of every autograd op on the CPU: the
// analytic gradient of L = sum(w * op(inputs)) (w random, so every output
// element matters differently) against central differences of L, element by
// element, for every input.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>

#include "recforge/autograd/ops.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/nn/layers.hpp"

namespace recforge::ag {
namespace {

using Build = std::function<Var(Graph&, const std::vector<Var>&)>;

Tensor random_tensor(const Shape& shape, std::uint64_t stream, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data_as<float>()[i] = lo + (hi - lo) * philox_uniform(17, stream, static_cast<std::uint64_t>(i));
  }
  return t;
}

struct Check {
  double max_abs_error = 0;
  std::string worst;
};

// L(inputs) = sum(w * build(inputs)), in double from the float forward.
double objective(const Resources& res, const Build& build, std::vector<std::unique_ptr<Parameter>>& params,
                 const Tensor& weights) {
  Graph g(res);
  std::vector<Var> inputs;
  for (auto& p : params) inputs.push_back(g.constant(p->value()));
  const Tensor y = build(g, inputs).value();
  double total = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) total += static_cast<double>(y.data_as<float>()[i]) * weights.data_as<float>()[i];
  return total;
}

// Compares analytic and numeric gradients: |a - n| <= atol + rtol |n| (float
// forward passes with step h leave ~1e-4 of noise in n; a 5% error in a
// derivative must fail, see GradCheck.CatchesAWrongDerivative).
void expect_gradients(const char* name, const Build& build, const std::vector<Tensor>& input_values,
                      double rtol = 1e-2, double atol = 1e-3, float h = 1e-2f) {
  SCOPED_TRACE(name);
  const Resources res = Resources::cpu();
  std::vector<std::unique_ptr<Parameter>> params;
  for (std::size_t k = 0; k < input_values.size(); ++k) {
    Tensor copy = Tensor::empty(input_values[k].shape(), DType::kF32);
    copy.copy_from(input_values[k]);
    params.push_back(std::make_unique<Parameter>("in" + std::to_string(k), copy, Parameter::Kind::kDense));
  }
  Graph g(res);
  std::vector<Var> inputs;
  for (auto& p : params) inputs.push_back(g.parameter(*p));
  const Var y = build(g, inputs);
  const Tensor weights = random_tensor(y.shape(), 99);
  const Var loss = sum(mul(y, g.constant(weights)));
  g.backward(loss);

  for (std::size_t k = 0; k < params.size(); ++k) {
    Parameter& p = *params[k];
    float* v = p.value().data_as<float>();
    double largest_numeric = 0;  // a case whose gradient is 0 everywhere would pass a backward that never ran
    for (std::int64_t i = 0; i < p.value().numel(); ++i) {
      const float saved = v[i];
      v[i] = saved + h;
      const double up = objective(res, build, params, weights);
      v[i] = saved - h;
      const double down = objective(res, build, params, weights);
      v[i] = saved;
      const double numeric = (up - down) / (2.0 * h);
      const double analytic = p.grad().data_as<float>()[i];
      EXPECT_NEAR(analytic, numeric, atol + rtol * std::fabs(numeric))
          << "input " << k << " element " << i;
      largest_numeric = std::max(largest_numeric, std::fabs(numeric));
    }
    EXPECT_GT(largest_numeric, atol) << name << ": input " << k << " has no gradient to check";
  }
}

TEST(GradCheck, Matmul) {
  expect_gradients("matmul", [](Graph&, const std::vector<Var>& x) { return matmul(x[0], x[1]); },
                   {random_tensor({3, 4}, 1), random_tensor({4, 5}, 2)});
  expect_gradients("matmul trans_b", [](Graph&, const std::vector<Var>& x) { return matmul(x[0], x[1], true, -0.5f); },
                   {random_tensor({3, 4}, 3), random_tensor({5, 4}, 4)});
}

TEST(GradCheck, LinearAndBias) {
  expect_gradients("linear", [](Graph&, const std::vector<Var>& x) { return linear(x[0], x[1], x[2]); },
                   {random_tensor({4, 3}, 5), random_tensor({3, 2}, 6), random_tensor({2}, 7)});
  // (The two-tower's log-Q correction is a bias_add on the logits.)
  expect_gradients("bias_add", [](Graph&, const std::vector<Var>& x) { return bias_add(x[0], x[1]); },
                   {random_tensor({4, 3}, 51), random_tensor({3}, 52)});
  // One input on both sides of a product: both contributions add up.
  expect_gradients("matmul(a, a^T)", [](Graph&, const std::vector<Var>& x) { return matmul(x[0], x[0], true); },
                   {random_tensor({3, 4}, 53)});
}

TEST(GradCheck, Elementwise) {
  const std::vector<Tensor> two = {random_tensor({3, 5}, 8), random_tensor({3, 5}, 9)};
  expect_gradients("add", [](Graph&, const std::vector<Var>& x) { return add(x[0], x[1]); }, two);
  expect_gradients("sub", [](Graph&, const std::vector<Var>& x) { return sub(x[0], x[1]); }, two);
  expect_gradients("mul", [](Graph&, const std::vector<Var>& x) { return mul(x[0], x[1]); }, two);
  expect_gradients("scale", [](Graph&, const std::vector<Var>& x) { return scale(x[0], -2.5f); }, {two[0]});
  // An input used twice accumulates both contributions.
  expect_gradients("mul(x, x)", [](Graph&, const std::vector<Var>& x) { return mul(x[0], x[0]); }, {two[0]});
  expect_gradients("add(x, x)", [](Graph&, const std::vector<Var>& x) { return add(x[0], x[0]); }, {two[0]});
}

TEST(GradCheck, Activations) {
  // Keep ReLU inputs away from the kink at 0, where the derivative jumps.
  Tensor away = random_tensor({4, 6}, 10, 0.1f, 1.0f);
  for (std::int64_t i = 0; i < away.numel(); i += 2) away.data_as<float>()[i] *= -1.0f;
  expect_gradients("relu", [](Graph&, const std::vector<Var>& x) { return relu(x[0]); }, {away});
  const Tensor wide = random_tensor({4, 6}, 11, -4.0f, 4.0f);
  expect_gradients("gelu", [](Graph&, const std::vector<Var>& x) { return gelu(x[0]); }, {wide});
  expect_gradients("sigmoid", [](Graph&, const std::vector<Var>& x) { return sigmoid(x[0]); }, {wide});
  expect_gradients("log_sigmoid", [](Graph&, const std::vector<Var>& x) { return log_sigmoid(x[0]); }, {wide});
  expect_gradients("tanh", [](Graph&, const std::vector<Var>& x) { return ag::tanh(x[0]); }, {wide});
}

TEST(GradCheck, Dropout) {
  const kernels::DropoutKey key{5, 6, 7};
  expect_gradients("dropout", [&](Graph&, const std::vector<Var>& x) { return dropout(x[0], 0.3f, key); },
                   {random_tensor({5, 8}, 12)});
}

TEST(GradCheck, RowsAndColumns) {
  const std::vector<Tensor> two = {random_tensor({4, 3}, 13), random_tensor({4, 3}, 14)};
  expect_gradients("rowwise_dot", [](Graph&, const std::vector<Var>& x) { return rowwise_dot(x[0], x[1]); }, two);
  expect_gradients("rowwise_dot(a, a)", [](Graph&, const std::vector<Var>& x) { return rowwise_dot(x[0], x[0]); }, {two[0]});
  expect_gradients("concat_columns",
                   [](Graph&, const std::vector<Var>& x) { return concat_columns({x[0], x[1], x[0]}); }, two);
  expect_gradients("slice_columns", [](Graph&, const std::vector<Var>& x) { return slice_columns(x[0], 1, 2); },
                   {two[0]});
  expect_gradients("reshape", [](Graph&, const std::vector<Var>& x) { return reshape(x[0], Shape{2, 6}); }, {two[0]});
}

TEST(GradCheck, GatherAndSparseProducts) {
  const Tensor ids = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 2, 3});
  expect_gradients("gather_rows", [&](Graph&, const std::vector<Var>& x) { return gather_rows(x[0], ids); },
                   {random_tensor({4, 3}, 34)});
  // A (3 x 4) and its transpose (4 x 3), CSR with sorted columns.
  SparseMatrix a{Tensor::from_vector(std::vector<std::int64_t>{0, 2, 3, 5}),
                 Tensor::from_vector(std::vector<std::int32_t>{0, 3, 1, 0, 2}),
                 Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f, 1.5f, 0.25f}), 3, 4};
  SparseMatrix at{Tensor::from_vector(std::vector<std::int64_t>{0, 2, 3, 4, 5}),
                  Tensor::from_vector(std::vector<std::int32_t>{0, 2, 1, 2, 0}),
                  Tensor::from_vector(std::vector<float>{0.5f, 1.5f, 2.0f, 0.25f, -1.0f}), 4, 3};
  expect_gradients("spmm", [&](Graph&, const std::vector<Var>& x) { return spmm(a, at, x[0]); },
                   {random_tensor({4, 5}, 35)});
  // Two layers of a symmetric matrix, as LightGCN propagates.
  SparseMatrix sym{Tensor::from_vector(std::vector<std::int64_t>{0, 2, 3, 4}),
                   Tensor::from_vector(std::vector<std::int32_t>{1, 2, 0, 0}),
                   Tensor::from_vector(std::vector<float>{0.7f, 0.3f, 0.7f, 0.3f}), 3, 3};
  expect_gradients("spmm twice", [&](Graph&, const std::vector<Var>& x) { return spmm(sym, sym, spmm(sym, sym, x[0])); },
                   {random_tensor({3, 4}, 36)});
  // An embedding bag as the two-tower's item features use it: 4 examples over
  // a vocabulary of 5 (one empty bag), means by nn::mean_bags (whose transpose
  // the backward uses), then rows of a batch.
  const Resources res = Resources::cpu();
  const std::vector<std::int64_t> offsets = {0, 2, 2, 5, 6};
  const std::vector<std::int32_t> columns = {1, 4, 0, 2, 4, 3};
  const nn::Bags bags = nn::mean_bags(res, offsets, columns, 5);
  EXPECT_EQ(bags.matrix.values.to_vector<float>(), (std::vector<float>{0.5f, 0.5f, 1 / 3.0f, 1 / 3.0f, 1 / 3.0f, 1.0f}));
  EXPECT_EQ(bags.transposed.offsets.to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 6}));
  EXPECT_EQ(bags.transposed.columns.to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 0, 2, 3, 0, 2}));
  const Tensor batch = Tensor::from_vector(std::vector<std::int32_t>{3, 0, 1, 0, 2});
  expect_gradients("embedding bag", [&](Graph&, const std::vector<Var>& x) { return gather_rows(spmm(bags.matrix, bags.transposed, x[0]), batch); },
                   {random_tensor({5, 3}, 37)});
}

TEST(GradCheck, Attention) {
  expect_gradients("batched_matmul",
                   [](Graph&, const std::vector<Var>& x) { return batched_matmul(x[0], x[1], false, 0.5f); },
                   {random_tensor({2, 3, 4}, 37), random_tensor({2, 4, 2}, 38)});
  expect_gradients("batched_matmul trans_b",
                   [](Graph&, const std::vector<Var>& x) { return batched_matmul(x[0], x[1], true); },
                   {random_tensor({2, 3, 4}, 39), random_tensor({2, 5, 4}, 40)});
  // Masked entries are -inf: weight the rest only (their derivative is 0 anyway).
  expect_gradients("causal_mask then softmax",
                   [](Graph&, const std::vector<Var>& x) {
                     return softmax_rows(reshape(causal_mask(x[0]), Shape{6, 3}));
                   },
                   {random_tensor({2, 3, 3}, 41)});
  const kernels::DropoutKey key{3, 4, 5};
  for (const std::int64_t heads : {1, 2}) {
    expect_gradients(heads == 1 ? "fused causal_self_attention, 1 head" : "fused causal_self_attention, 2 heads",
                     [&](Graph&, const std::vector<Var>& x) {
                       return causal_self_attention(x[0], x[1], x[2], 2, heads, 0.2f, key);
                     },
                     {random_tensor({6, 4}, 42), random_tensor({6, 4}, 43), random_tensor({6, 4}, 44)});
    expect_gradients(heads == 1 ? "composed causal_self_attention, 1 head" : "composed causal_self_attention, 2 heads",
                     [&](Graph&, const std::vector<Var>& x) {
                       return causal_self_attention_composed(x[0], x[1], x[2], 2, heads, 0.2f, key);
                     },
                     {random_tensor({6, 4}, 42), random_tensor({6, 4}, 43), random_tensor({6, 4}, 44)});
  }
  // Self-attention proper: q, k and v are one input (their gradient buffers
  // are one buffer, each product adding into it).
  expect_gradients("fused causal_self_attention, q = k = v",
                   [&](Graph&, const std::vector<Var>& x) {
                     return causal_self_attention(x[0], x[0], x[0], 2, 2, 0.2f, key);
                   },
                   {random_tensor({6, 4}, 54)});
  // Longer than the CPU kernel's row block (32): the staircase of blocks.
  expect_gradients("fused causal_self_attention, L = 37",
                   [&](Graph&, const std::vector<Var>& x) {
                     return causal_self_attention(x[0], x[1], x[2], 1, 1, 0.1f, key);
                   },
                   {random_tensor({37, 3}, 48), random_tensor({37, 3}, 49), random_tensor({37, 3}, 50)});
}

// Position i attends to positions <= i only: changing a later key or value
// leaves earlier outputs unchanged.
TEST(Autograd, CausalAttentionIgnoresTheFuture) {
  const Resources res = Resources::cpu();
  Tensor q = random_tensor({4, 2}, 45), k = random_tensor({4, 2}, 46), v = random_tensor({4, 2}, 47);
  Graph g1(res);
  const auto before = causal_self_attention(g1.constant(q), g1.constant(k), g1.constant(v), 1, 1).value().to_vector<float>();
  k.data_as<float>()[6] += 5.0f;  // key of position 3
  v.data_as<float>()[7] -= 3.0f;  // value of position 3
  Graph g2(res);
  const auto after = causal_self_attention(g2.constant(q), g2.constant(k), g2.constant(v), 1, 1).value().to_vector<float>();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(before[static_cast<std::size_t>(i)], after[static_cast<std::size_t>(i)]) << i;
  EXPECT_NE(before[6], after[6]);
}

TEST(GradCheck, Reductions) {
  expect_gradients("sum", [](Graph&, const std::vector<Var>& x) { return sum(x[0]); }, {random_tensor({3, 4}, 15)});
  expect_gradients("mean", [](Graph&, const std::vector<Var>& x) { return mean(x[0]); }, {random_tensor({3, 4}, 16)});
}

TEST(GradCheck, Normalisation) {
  expect_gradients("softmax_rows", [](Graph&, const std::vector<Var>& x) { return softmax_rows(x[0]); },
                   {random_tensor({3, 5}, 17, -2.0f, 2.0f)});
  expect_gradients("layer_norm",
                   [](Graph&, const std::vector<Var>& x) { return layer_norm(x[0], x[1], x[2]); },
                   {random_tensor({3, 6}, 18, -2.0f, 2.0f), random_tensor({6}, 19), random_tensor({6}, 20)});
  expect_gradients("l2_normalize_rows", [](Graph&, const std::vector<Var>& x) { return l2_normalize_rows(x[0]); },
                   {random_tensor({3, 4}, 21)});
  // A constant row (variance 0: x-hat is 0, the epsilon carries the scale).
  Tensor flat = random_tensor({2, 6}, 55, -2.0f, 2.0f);
  for (std::int64_t c = 0; c < 6; ++c) flat.data_as<float>()[c] = 0.75f;
  expect_gradients("layer_norm with a constant row",
                   [](Graph&, const std::vector<Var>& x) { return layer_norm(x[0], x[1], x[2]); },
                   {flat, random_tensor({6}, 56), random_tensor({6}, 57)}, 2e-2, 1e-2, /*h=*/1e-4f);  // slope ~1/sqrt(eps)
}

TEST(GradCheck, Losses) {
  const Tensor targets = random_tensor({6}, 22, 0.0f, 1.0f);
  expect_gradients("bce_with_logits",
                   [&](Graph&, const std::vector<Var>& x) { return bce_with_logits(x[0], targets); },
                   {random_tensor({6}, 23, -3.0f, 3.0f)});
  // Saturated logits: the stable form's gradient sigmoid(x) - t is still exact.
  expect_gradients("bce_with_logits, |x| ~ 30",
                   [&](Graph&, const std::vector<Var>& x) { return bce_with_logits(x[0], targets); },
                   {Tensor::from_vector(std::vector<float>{30, -30, 25, -25, 40, -40})});
  const Tensor classes = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 4});
  expect_gradients("softmax_cross_entropy",
                   [&](Graph&, const std::vector<Var>& x) { return softmax_cross_entropy(x[0], classes); },
                   {random_tensor({3, 5}, 24, -2.0f, 2.0f)});
}

TEST(GradCheck, ComposedMlpWithBce) {
  // A small NeuMF-like tower: concat -> linear -> relu -> linear -> bce.
  const Tensor targets = Tensor::from_vector(std::vector<float>{1, 0, 1, 0});
  expect_gradients("mlp",
                   [&](Graph&, const std::vector<Var>& x) {
                     const Var h = gelu(linear(concat_columns({x[0], x[1]}), x[2], x[3]));
                     const Var logits = reshape(linear(h, x[4], Var()), Shape{4});
                     return bce_with_logits(logits, targets);
                   },
                   {random_tensor({4, 3}, 25), random_tensor({4, 2}, 26), random_tensor({5, 6}, 27),
                    random_tensor({6}, 28), random_tensor({6, 1}, 29)});
}

// The negative control: an op whose backward is 5% off must fail the check.
Var scaled_by_two_with_a_wrong_gradient(const Var& x) {
  Graph& g = x.graph();
  Tensor y = g.empty(x.shape());
  kernels::scale(g.resources(), 2.0f, x.value(), y);
  return g.record("wrong", y, {x}, [x](Graph& g, const Tensor& dy) {
    if (Tensor* dx = g.grad_of(x)) kernels::axpy(g.resources(), 2.1f, dy, *dx);
  });
}

TEST(GradCheck, CatchesAWrongDerivative) {
  EXPECT_NONFATAL_FAILURE(
      expect_gradients("wrong", [](Graph&, const std::vector<Var>& x) { return scaled_by_two_with_a_wrong_gradient(x[0]); },
                       {random_tensor({1, 1}, 40, 0.2f, 1.0f)}),
      "input 0");
}

TEST(Autograd, EmbeddingGradientsAreRowsOfTheLookups) {
  const Resources res = Resources::cpu();
  Parameter table("t", random_tensor({5, 3}, 30), Parameter::Kind::kEmbedding);
  Graph g(res);
  const Tensor ids_a = Tensor::from_vector(std::vector<std::int32_t>{4, 1}),
               ids_b = Tensor::from_vector(std::vector<std::int32_t>{1});
  const Var a = g.embedding(table, ids_a), b = g.embedding(table, ids_b);
  EXPECT_EQ(a.value().to_vector<float>()[0], table.value().to_vector<float>()[12]);
  // L = sum(a) + 2 sum(b): every looked-up row gets ones, b's row twos.
  g.backward(add(sum(a), scale(sum(b), 2.0f)));
  EXPECT_EQ(table.rows().ids.to_vector<std::int32_t>(), (std::vector<std::int32_t>{4, 1, 1}));
  EXPECT_EQ(table.rows().values.to_vector<float>(), (std::vector<float>{1, 1, 1, 1, 1, 1, 2, 2, 2}));
}

TEST(Autograd, MisuseIsAClearError) {
  const Resources res = Resources::cpu();
  Graph g(res), other(res);
  const Var a = g.constant(random_tensor({2, 2}, 31));
  const Var b = other.constant(random_tensor({2, 2}, 32));
  EXPECT_THROW(add(a, b), Error);
  EXPECT_THROW(g.backward(a), Error);  // not a 1-element loss
  EXPECT_THROW(matmul(a, g.constant(random_tensor({3, 2}, 33))), Error);
}

}  // namespace
}  // namespace recforge::ag
