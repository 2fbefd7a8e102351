// nn::SequenceLayout: the packed layout's row maps on a known batch, and
// Transformer blocks over packed rows computing exactly what they compute over
// the padded layout (outputs at item positions, and every gradient), with the
// fused and the composed attention.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "recforge/core/philox.hpp"
#include "recforge/nn/layers.hpp"
#include "recforge/nn/sequence_layout.hpp"
#include "testing/error_testing.hpp"

namespace recforge::nn {
namespace {

// Three sequences of 4 positions: two items, none, four (0 = padding).
const std::vector<std::int32_t> kItems = {0, 0, 5, 6, 0, 0, 0, 0, 1, 2, 3, 4};

TEST(SequenceLayout, PackedRowsAreTheItemPositionsThenOnePaddingRow) {
  const Resources res = Resources::cpu();
  const SequenceLayout l = SequenceLayout::packed(res, kItems, 3, 4, 10, 70);
  EXPECT_TRUE(l.is_packed());
  EXPECT_EQ(l.rows(), 7);
  EXPECT_EQ(l.first_sequence(), 10u);
  EXPECT_EQ(l.first_row(), 70u);
  EXPECT_EQ(l.row_of_position().to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{6, 6, 0, 1, 6, 6, 6, 6, 2, 3, 4, 5}));
  // The padding row reads the first padding position.
  EXPECT_EQ(l.position_of_row().to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 3, 8, 9, 10, 11, 0}));
  // Attention's first read query row per sequence: the first item (4: none).
  EXPECT_EQ(l.sequence_begin().to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 4, 0}));
  EXPECT_EQ(l.row(0, 3), 1);
  EXPECT_EQ(l.row(1, 3), 6);
  EXPECT_EQ(l.to_rows(kItems, -1), (std::vector<std::int32_t>{5, 6, 1, 2, 3, 4, -1}));
  RF_EXPECT_ERROR(l.row(3, 0), ErrorKind::kInvalidArgument, "SequenceLayout::row: (3, 0) outside 3 sequences");
  RF_EXPECT_ERROR(SequenceLayout::packed(res, kItems, 3, 5, 0, 0), ErrorKind::kInvalidArgument,
                  "SequenceLayout: 12 item ids for 3 sequences of 5 positions");
}

TEST(SequenceLayout, PaddedRowsArePositions) {
  const SequenceLayout l = SequenceLayout::padded(3, 4, 10);
  EXPECT_FALSE(l.is_packed());
  EXPECT_EQ(l.rows(), 12);
  EXPECT_EQ(l.first_row(), 40u);  // rows of the 10 sequences before
  EXPECT_EQ(l.row(1, 3), 7);
  EXPECT_EQ(l.to_rows(kItems, -1), kItems);
  EXPECT_FALSE(l.sequence_begin().defined());  // no items given: no padding known
  // With the items, attention learns where each sequence's items begin.
  const SequenceLayout with_items = SequenceLayout::padded(Resources::cpu(), kItems, 3, 4, 10);
  EXPECT_EQ(with_items.sequence_begin().to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 4, 0}));
  EXPECT_EQ(with_items.rows(), 12);
  // Padding is on the left only: a hole after the first item would be attended.
  RF_EXPECT_ERROR(SequenceLayout::padded(Resources::cpu(), {0, 5, 0, 6}, 1, 4, 0), ErrorKind::kInvalidArgument,
                  "SequenceLayout: sequence 0 has padding at position 2 after its first item (at 1); sequences are "
                  "left-padded");
}

TEST(SequenceLayout, WithoutPaddingThePaddingRowStillExists) {
  const Resources res = Resources::cpu();
  const SequenceLayout l = SequenceLayout::packed(res, {1, 2, 3, 4}, 2, 2, 0, 0);
  EXPECT_EQ(l.rows(), 5);
  EXPECT_EQ(l.position_of_row().to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 1, 2, 3, 0}));
}

Tensor uniform(const Shape& shape, std::uint64_t stream) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data_as<float>()[i] = 2.0f * philox_uniform(23, stream, static_cast<std::uint64_t>(i)) - 1.0f;
  }
  return t;
}

struct Pass {
  std::vector<float> outputs;                    // per position (sequences * L, d), padding rows left 0
  std::vector<float> input_gradient;             // the same layout
  std::vector<std::vector<float>> gradients;     // per parameter
};

// Two blocks (padding rows zeroed after each, as SASRec does) over `x` stored
// in `layout`; loss = sum(w * y) over item positions.
Pass run_blocks(const std::vector<std::unique_ptr<TransformerBlock>>& blocks, const SequenceLayout& layout,
                const Tensor& x_positions, const Tensor& w_positions, std::int64_t d) {
  const Resources res = Resources::cpu();
  const std::int64_t positions = layout.sequences() * layout.length();
  std::vector<float> x_all = x_positions.to_vector<float>(), w_all = w_positions.to_vector<float>();
  std::vector<std::int32_t> row_item(static_cast<std::size_t>(positions));
  for (std::size_t p = 0; p < row_item.size(); ++p) row_item[p] = kItems[p];
  // Rows in the layout's order: each row is a position's d values.
  const auto rows_of = [&](const std::vector<float>& per_position) {
    std::vector<std::vector<float>> split(static_cast<std::size_t>(positions));
    for (std::int64_t p = 0; p < positions; ++p) {
      split[static_cast<std::size_t>(p)].assign(per_position.begin() + p * d, per_position.begin() + (p + 1) * d);
    }
    std::vector<float> out;
    for (const auto& row : layout.to_rows(split, std::vector<float>(static_cast<std::size_t>(d), 0.0f))) {
      out.insert(out.end(), row.begin(), row.end());
    }
    return out;
  };
  std::vector<float> mask;
  for (const std::int32_t item : layout.to_rows(row_item, 0)) mask.insert(mask.end(), static_cast<std::size_t>(d), item != 0 ? 1.0f : 0.0f);
  Parameter input("x", Tensor::from_vector(rows_of(x_all), Shape{layout.rows(), d}), Parameter::Kind::kDense);
  std::vector<Parameter*> params;
  for (const auto& b : blocks) {
    for (Parameter* p : b->parameters()) params.push_back(p);
  }
  for (Parameter* p : params) p->zero_grad(res.stream());
  ag::Graph g(res);
  const ag::Var padding = g.constant(Tensor::from_vector(mask, Shape{layout.rows(), d}));
  ag::Var x = ag::mul(g.parameter(input), padding);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    x = ag::mul(blocks[b]->forward(g, x, layout, {7, 100 * (b + 1), 0}), padding);
  }
  const ag::Var loss = ag::sum(ag::mul(x, g.constant(Tensor::from_vector(rows_of(w_all), Shape{layout.rows(), d}))));
  g.backward(loss);
  Pass pass;
  // Back to positions: each item position's row.
  const std::vector<float> y = x.value().to_vector<float>(), dx = input.grad().to_vector<float>();
  pass.outputs.assign(static_cast<std::size_t>(positions * d), 0.0f);
  pass.input_gradient = pass.outputs;
  for (std::int64_t s = 0; s < layout.sequences(); ++s) {
    for (std::int64_t t = 0; t < layout.length(); ++t) {
      const std::int64_t p = s * layout.length() + t, r = layout.row(s, t);
      if (kItems[static_cast<std::size_t>(p)] == 0) continue;
      std::copy_n(y.begin() + r * d, d, pass.outputs.begin() + p * d);
      std::copy_n(dx.begin() + r * d, d, pass.input_gradient.begin() + p * d);
    }
  }
  for (Parameter* p : params) pass.gradients.push_back(p->grad().to_vector<float>());
  return pass;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], 1e-5 + 1e-4 * std::fabs(b[i])) << what << " element " << i;
  }
}

class PackedBlocks : public ::testing::TestWithParam<AttentionKernel> {};

TEST_P(PackedBlocks, ComputeWhatThePaddedLayoutComputes) {
  const Resources res = Resources::cpu();
  constexpr std::int64_t d = 8;
  Init init{&res, 5, 0};
  std::vector<std::unique_ptr<TransformerBlock>> blocks;
  for (int b = 0; b < 2; ++b) {
    blocks.push_back(std::make_unique<TransformerBlock>("block" + std::to_string(b), d, 2, 0.0f,
                                                        kernels::Activation::kRelu, init, GetParam()));
  }
  const Tensor x = uniform({12, d}, 1), w = uniform({12, d}, 2);
  const Pass padded = run_blocks(blocks, SequenceLayout::padded(res, kItems, 3, 4, 0), x, w, d);
  const Pass packed = run_blocks(blocks, SequenceLayout::packed(res, kItems, 3, 4, 0, 0), x, w, d);
  expect_close(packed.outputs, padded.outputs, "outputs");
  expect_close(packed.input_gradient, padded.input_gradient, "input gradient");
  ASSERT_EQ(packed.gradients.size(), padded.gradients.size());
  double moved = 0;
  for (std::size_t k = 0; k < padded.gradients.size(); ++k) {
    expect_close(packed.gradients[k], padded.gradients[k], "gradient of parameter " + std::to_string(k));
    for (const float v : padded.gradients[k]) moved += std::fabs(v);
  }
  EXPECT_GT(moved, 1.0);  // the comparison is not of zeros
}

INSTANTIATE_TEST_SUITE_P(Attention, PackedBlocks, ::testing::Values(AttentionKernel::kFused, AttentionKernel::kComposed),
                         [](const auto& info) { return info.param == AttentionKernel::kFused ? "fused" : "composed"; });

}  // namespace
}  // namespace recforge::nn
