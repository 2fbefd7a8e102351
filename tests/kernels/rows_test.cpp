// Row kernels, SGD and reductions on the CPU: known answers and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "recforge/kernels/optim.hpp"
#include "recforge/kernels/reduce.hpp"
#include "recforge/kernels/rows.hpp"
#include "testing/error_testing.hpp"

namespace recforge::kernels {
namespace {

const Resources kCpu = Resources::cpu();

TEST(CoalesceRows, SortsUniqueIdsAndSumsDuplicatesInInputOrder) {
  Tensor ids = Tensor::from_vector(std::vector<std::int32_t>{5, 2, 5, 9, 2});
  Tensor values = Tensor::from_vector(std::vector<float>{1, 10, 2, 20, 3, 30, 4, 40, 5, 50}, {5, 2});
  Tensor out_ids, out_values;
  coalesce_rows(kCpu, ids, values, out_ids, out_values);
  EXPECT_EQ(out_ids.to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 5, 9}));
  EXPECT_EQ(out_values.to_vector<float>(), (std::vector<float>{2 + 5, 20 + 50, 1 + 3, 10 + 30, 4, 40}));
}

TEST(CoalesceRows, EmptyAndMismatchedInputs) {
  Tensor out_ids, out_values;
  coalesce_rows(kCpu, Tensor::empty({0}, DType::kI32), Tensor::empty({0, 3}, DType::kF32), out_ids, out_values);
  EXPECT_EQ(out_ids.numel(), 0);
  EXPECT_EQ(out_values.shape(), (Shape{0, 3}));
  RF_EXPECT_ERROR(coalesce_rows(kCpu, Tensor::empty({2}, DType::kI32), Tensor::empty({3, 1}, DType::kF32), out_ids,
                                out_values),
                  ErrorKind::kInvalidArgument, "do not pair up");
  RF_EXPECT_ERROR(coalesce_rows(kCpu, Tensor::empty({2}, DType::kI64), Tensor::empty({2, 1}, DType::kF32), out_ids,
                                out_values),
                  ErrorKind::kInvalidArgument, "expected dtype i32, got i64");
}

TEST(ScatterAndGatherRows, KnownAnswersAndBounds) {
  Tensor table = Tensor::zeros({4, 2}, DType::kF32);
  scatter_add_rows(kCpu, table, Tensor::from_vector(std::vector<std::int32_t>{1, 3, 1}),
                   Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(table.to_vector<float>(), (std::vector<float>{0, 0, 6, 8, 0, 0, 3, 4}));
  Tensor out = Tensor::empty({2, 2}, DType::kF32);
  gather_rows(kCpu, table, Tensor::from_vector(std::vector<std::int32_t>{3, 1}), out);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{3, 4, 6, 8}));
  RF_EXPECT_ERROR(gather_rows(kCpu, table, Tensor::from_vector(std::vector<std::int32_t>{4, 0}), out),
                  ErrorKind::kInvalidArgument, "row id 4 outside [0, 4)");
}

TEST(CountNonfinite, CountsNanAndInf) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, NAN, INFINITY, -INFINITY, 0});
  EXPECT_EQ(count_nonfinite(kCpu, t), 3);
}

TEST(CountNonfiniteRows, CountsOnlyTheNamedRowsAsOftenAsNamed) {
  Tensor table = Tensor::from_vector(std::vector<float>{NAN, 1, 2, 3, INFINITY, -INFINITY, 4, 5}, {4, 2});
  const auto ids = [](std::vector<std::int32_t> v) { return Tensor::from_vector(v); };
  EXPECT_EQ(count_nonfinite_rows(kCpu, table, ids({1, 3})), 0);
  EXPECT_EQ(count_nonfinite_rows(kCpu, table, ids({0, 2})), 3);
  EXPECT_EQ(count_nonfinite_rows(kCpu, table, ids({2, 2, 1})), 4);
  EXPECT_EQ(count_nonfinite_rows(kCpu, table, ids({})), 0);
  RF_EXPECT_ERROR(count_nonfinite_rows(kCpu, table, ids({4})), ErrorKind::kInvalidArgument, "row id 4 outside [0, 4)");
  RF_EXPECT_ERROR(count_nonfinite_rows(kCpu, table, Tensor::from_vector(std::vector<std::int64_t>{1})),
                  ErrorKind::kInvalidArgument, "expected dtype i32, got i64");
}

TEST(TallyNonfinite, AddsEachTensorsCountToItsSlot) {
  Tensor counts = Tensor::from_vector(std::vector<std::int64_t>{7, 0, 0});
  Tensor table = Tensor::from_vector(std::vector<float>{NAN, 1, 2, INFINITY}, {2, 2});
  tally_nonfinite(kCpu, Tensor::from_vector(std::vector<float>{NAN, 0, -INFINITY}), counts, 0);
  tally_nonfinite_rows(kCpu, table, Tensor::from_vector(std::vector<std::int32_t>{1, 1}), counts, 2);
  tally_nonfinite(kCpu, table, counts, 2);
  EXPECT_EQ(read_counts(kCpu, counts), (std::vector<std::int64_t>{7 + 2, 0, 2 + 2}));
  RF_EXPECT_ERROR(tally_nonfinite(kCpu, table, counts, 3), ErrorKind::kInvalidArgument,
                  "tally_nonfinite: slot 3 outside counts [3]");
  RF_EXPECT_ERROR(tally_nonfinite(kCpu, table, Tensor::zeros({1}, DType::kI32), 0), ErrorKind::kInvalidArgument,
                  "expected dtype i64, got i32");
}

TEST(Sgd, PlainMomentumAndWeightDecay) {
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2}), g = Tensor::from_vector(std::vector<float>{0.5f, -1});
  Tensor v = Tensor::zeros({2}, DType::kF32);
  sgd_dense(kCpu, w, g, v, {.lr = 0.1f});
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0.95f, 2.1f}));
  // momentum 0.9, wd 0.1: g' = g + 0.1 w; v = 0.9 v + g'; w -= lr v (twice).
  Tensor w2 = Tensor::from_vector(std::vector<float>{1}), g2 = Tensor::from_vector(std::vector<float>{1});
  Tensor v2 = Tensor::zeros({1}, DType::kF32);
  const SgdOptions o{.lr = 0.5f, .momentum = 0.9f, .weight_decay = 0.1f};
  sgd_dense(kCpu, w2, g2, v2, o);  // g' = 1.1, v = 1.1, w = 0.45
  sgd_dense(kCpu, w2, g2, v2, o);  // g' = 1.045, v = 2.035, w = -0.5675
  EXPECT_FLOAT_EQ(w2.data_as<float>()[0], -0.5675f);
  EXPECT_FLOAT_EQ(v2.data_as<float>()[0], 2.035f);
}

TEST(Sgd, RowsUpdateOnlyTouchedRows) {
  Tensor table = Tensor::from_vector(std::vector<float>{1, 1, 2, 2, 3, 3}, {3, 2});
  Tensor v = Tensor::zeros({3, 2}, DType::kF32);
  sgd_rows(kCpu, table, v, Tensor::from_vector(std::vector<std::int32_t>{2}),
           Tensor::from_vector(std::vector<float>{1, -1}, {1, 2}), {.lr = 0.5f});
  EXPECT_EQ(table.to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 2.5f, 3.5f}));
}

// Two steps from w = 0.5 with g = 0.2, then -0.1, lr 0.1 (first steps by hand:
// Adam's first step is lr sign(g); Adagrad's too, as s = g^2). The second
// values are the formulas in optim.hpp evaluated in double precision.
TEST(AdamAndAdagrad, KnownAnswersOverTwoSteps) {
  const auto adam = [](float decoupled_decay) {
    Tensor w = Tensor::from_vector(std::vector<float>{0.5f}), m = Tensor::zeros({1}, DType::kF32), v = Tensor::zeros({1}, DType::kF32);
    std::vector<float> out;
    for (const auto& [step, g] : {std::pair<std::int64_t, float>{1, 0.2f}, {2, -0.1f}}) {
      adam_dense(kCpu, w, Tensor::from_vector(std::vector<float>{g}), m, v,
                 {.lr = 0.1f, .decoupled_decay = decoupled_decay, .step = step});
      out.push_back(w.data_as<float>()[0]);
    }
    return out;
  };
  const auto plain = adam(0.0f);
  EXPECT_NEAR(plain[0], 0.4, 1e-6);
  EXPECT_NEAR(plain[1], 0.3733663027, 1e-6);  // m = 0.008, v = 4.996e-5, bias-corrected by 0.19 and 0.001999
  const auto decoupled = adam(0.01f);  // AdamW: w -= lr 0.01 w first
  EXPECT_NEAR(decoupled[0], 0.3995, 1e-6);
  EXPECT_NEAR(decoupled[1], 0.3724668027, 1e-6);

  Tensor w = Tensor::from_vector(std::vector<float>{0.5f}), s = Tensor::zeros({1}, DType::kF32);
  adagrad_dense(kCpu, w, Tensor::from_vector(std::vector<float>{0.2f}), s, {.lr = 0.1f});
  EXPECT_NEAR(w.data_as<float>()[0], 0.4, 1e-6);
  adagrad_dense(kCpu, w, Tensor::from_vector(std::vector<float>{-0.1f}), s, {.lr = 0.1f});
  EXPECT_NEAR(w.data_as<float>()[0], 0.4 + 0.01 / std::sqrt(0.05), 1e-6);
  EXPECT_NEAR(s.data_as<float>()[0], 0.05, 1e-7);
}

// Lazy rows: only the listed rows and their moments move, as the dense update
// would move them; a bad id anywhere in the list changes nothing.
TEST(AdamAndAdagrad, RowsMoveOnlyTheirRowsAndABadIdChangesNothing) {
  const std::vector<float> initial = {1, 1, 2, 2, 0.5f, 0.5f};
  Tensor table = Tensor::from_vector(initial, {3, 2}), m = Tensor::zeros({3, 2}, DType::kF32), v = Tensor::zeros({3, 2}, DType::kF32);
  const Tensor grad = Tensor::from_vector(std::vector<float>{0.2f, -0.2f}, {1, 2});
  adam_rows(kCpu, table, m, v, Tensor::from_vector(std::vector<std::int32_t>{2}), grad, {.lr = 0.1f, .step = 1});
  const auto t = table.to_vector<float>();
  EXPECT_EQ(std::vector<float>(t.begin(), t.begin() + 4), std::vector<float>(initial.begin(), initial.begin() + 4));
  EXPECT_NEAR(t[4], 0.4, 1e-6);
  EXPECT_NEAR(t[5], 0.6, 1e-6);
  EXPECT_EQ(m.to_vector<float>()[0], 0.0f);

  const Tensor two = Tensor::from_vector(std::vector<float>{0.2f, 0.2f, 0.2f, 0.2f}, {2, 2});
  const Tensor bad_ids = Tensor::from_vector(std::vector<std::int32_t>{0, 5});
  Tensor fresh = Tensor::from_vector(initial, {3, 2}), s = Tensor::zeros({3, 2}, DType::kF32), vel = Tensor::zeros({3, 2}, DType::kF32);
  RF_EXPECT_ERROR(adam_rows(kCpu, fresh, m, v, bad_ids, two, {.step = 2}), ErrorKind::kInvalidArgument,
                  "adam_rows: row id 5 outside [0, 3)");
  RF_EXPECT_ERROR(adagrad_rows(kCpu, fresh, s, bad_ids, two, {}), ErrorKind::kInvalidArgument,
                  "adagrad_rows: row id 5 outside [0, 3)");
  RF_EXPECT_ERROR(sgd_rows(kCpu, fresh, vel, bad_ids, two, {}), ErrorKind::kInvalidArgument,
                  "sgd_rows: row id 5 outside [0, 3)");
  EXPECT_EQ(fresh.to_vector<float>(), initial);  // row 0 was stepped before id 5 was seen
  EXPECT_EQ(s.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(vel.to_vector<float>(), std::vector<float>(6, 0.0f));
}

TEST(Reduce, SumSquaresAndScale) {
  Tensor t = Tensor::from_vector(std::vector<float>{3, 4});
  EXPECT_DOUBLE_EQ(sum_squares(kCpu, t), 25.0);
  scale_inplace(kCpu, t, 0.5f);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, 2.0f}));
}

// Gradient clipping tallies every parameter into its slot and reads once.
TEST(Reduce, TallySumSquaresAddsIntoItsSlot) {
  Tensor slots = Tensor::zeros({3}, DType::kI64);
  tally_sum_squares(kCpu, Tensor::from_vector(std::vector<float>{3, 4}), slots, 0);
  tally_sum_squares(kCpu, Tensor::from_vector(std::vector<float>{1, 2, 2}), slots, 2);
  tally_sum_squares(kCpu, Tensor::from_vector(std::vector<float>{0.5f}), slots, 2);
  EXPECT_EQ(read_sums(kCpu, slots), (std::vector<double>{25.0, 0.0, 9.25}));
  RF_EXPECT_ERROR(tally_sum_squares(kCpu, Tensor::from_vector(std::vector<float>{1}), slots, 3),
                  ErrorKind::kInvalidArgument, "tally_sum_squares: slot 3 outside sums [3]");
}

// The trainer reads a step's loss (tally_sum) with its non-finite counts.
TEST(Reduce, TallySumAddsValuesAndCarriesNaN) {
  Tensor slots = Tensor::zeros({2}, DType::kI64);
  tally_sum(kCpu, Tensor::from_vector(std::vector<float>{3, -4.5f}), slots, 0);
  tally_sum(kCpu, Tensor::from_vector(std::vector<float>{0.25f}), slots, 0);
  tally_sum(kCpu, Tensor::from_vector(std::vector<float>{1, std::nanf("")}), slots, 1);
  const std::vector<double> sums = read_sums(kCpu, slots);
  EXPECT_EQ(sums[0], -1.25);
  EXPECT_TRUE(std::isnan(sums[1]));
  RF_EXPECT_ERROR(tally_sum(kCpu, Tensor::from_vector(std::vector<std::int32_t>{1}), slots, 0),
                  ErrorKind::kInvalidArgument, "tally_sum");
}

}  // namespace
}  // namespace recforge::kernels
