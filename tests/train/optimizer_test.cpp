// Embedding tables under each optimizer: lazy updates touch only a step's rows
// (sparse Adam: a row untouched in a step keeps its value); dense updates
// (embedding_updates: dense) are the dense optimizer applied to the rows
// scattered into a full gradient, so momentum keeps moving earlier rows.
#include <gtest/gtest.h>

#include "recforge/train/optimizer.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge {
namespace {

std::unique_ptr<Optimizer> optimizer(const std::string& yaml) {
  return make_optimizer(optimizer_schema().resolve(load_config_string(yaml, "optimizer.yaml")));
}

Tensor table() { return Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{3, 2}); }

// Two steps on a 3 x 2 table: row 0 gets a gradient in step 0, row 1 in step 1.
std::vector<float> two_steps(Optimizer& opt, Parameter& p, bool as_rows) {
  const Resources res = Resources::cpu();
  const std::vector<std::vector<float>> grads = {{0.5f, -1.0f}, {2.0f, 0.25f}};
  for (int step = 0; step < 2; ++step) {
    p.zero_grad(res.stream());
    if (as_rows) {
      p.rows().ids = Tensor::from_vector(std::vector<std::int32_t>{step});
      p.rows().values = Tensor::from_vector(grads[static_cast<std::size_t>(step)], Shape{1, 2});
    } else {
      std::vector<float> dense(6, 0.0f);
      dense[static_cast<std::size_t>(step * 2)] = grads[static_cast<std::size_t>(step)][0];
      dense[static_cast<std::size_t>(step * 2 + 1)] = grads[static_cast<std::size_t>(step)][1];
      p.grad().copy_from(Tensor::from_vector(dense, Shape{3, 2}));
    }
    opt.step(res, {&p}, 0.1f, step);
  }
  return p.value().to_vector<float>();
}

TEST(Optimizer, LazyAndDenseEmbeddingUpdates) {
  for (const std::string type : {"adam", "sgd", "adagrad"}) {
    SCOPED_TRACE(type);
    const std::string momentum = type == "sgd" ? ", momentum: 0.9" : "";
    Parameter lazy_table("t", table(), Parameter::Kind::kEmbedding);
    const auto lazy = two_steps(*optimizer("{type: " + type + momentum + "}"), lazy_table, true);
    Parameter dense_table("t", table(), Parameter::Kind::kEmbedding);
    const auto dense =
        two_steps(*optimizer("{type: " + type + momentum + ", embedding_updates: dense}"), dense_table, true);
    Parameter reference_param("t", table(), Parameter::Kind::kDense);
    const auto reference = two_steps(*optimizer("{type: " + type + momentum + "}"), reference_param, false);

    EXPECT_EQ(dense, reference);                     // the dense optimizer on the scattered rows
    EXPECT_EQ(lazy[4], 5.0f);                        // row 2 never had a gradient
    EXPECT_EQ(lazy[5], 6.0f);
    EXPECT_EQ(lazy[2], dense[2]);                    // row 1: its first update either way
    if (type != "adagrad") EXPECT_NE(lazy[0], dense[0]);  // row 0: momentum moves it again in step 1
  }
}

TEST(Optimizer, UnknownEmbeddingUpdateModeIsRefused) {
  EXPECT_THROW(optimizer("{type: adam, embedding_updates: sometimes}"), Error);
}

}  // namespace
}  // namespace recforge
