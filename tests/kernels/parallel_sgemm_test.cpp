// parallel_sgemm on every split it takes (rows of C, columns of C, chunks of
// a long inner dimension), each transpose combination, with beta: the product
// of a double-precision reference, and bit for bit the same on 1 and on 3
// OpenMP threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "recforge/core/philox.hpp"
#include "recforge/kernels/cpu_blas.hpp"

namespace recforge::kernels {
namespace {

std::vector<float> uniform(std::int64_t n, std::uint64_t stream) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = 2.0f * philox_uniform(3, stream, static_cast<std::uint64_t>(i)) - 1.0f;
  return v;
}

struct Shape3 {
  std::int64_t m, n, k;
};

class ParallelSgemm : public ::testing::TestWithParam<std::tuple<Shape3, bool, bool>> {};

TEST_P(ParallelSgemm, MatchesTheReferenceAndIgnoresTheThreadCount) {
  // Plain variables, not structured bindings: clang's C++20 does not capture those in lambdas.
  const Shape3 shape = std::get<0>(GetParam());
  const bool trans_a = std::get<1>(GetParam()), trans_b = std::get<2>(GetParam());
  const std::int64_t m = shape.m, n = shape.n, k = shape.k;
  const std::vector<float> a = uniform(m * k, 1), b = uniform(k * n, 2), c0 = uniform(m * n, 3);
  const std::int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const float alpha = 0.5f, beta = 2.0f;
  const auto product = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    std::vector<float> c = c0;
    parallel_sgemm(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), n);
    omp_set_num_threads(saved);
    return c;
  };
  const std::vector<float> one = product(1), three = product(3);
  EXPECT_EQ(one, three);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0, size = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double x = a[static_cast<std::size_t>(trans_a ? p * lda + i : i * lda + p)];
        const double y = b[static_cast<std::size_t>(trans_b ? j * ldb + p : p * ldb + j)];
        sum += x * y;
        size += std::fabs(x * y);
      }
      const double expected = alpha * sum + beta * c0[static_cast<std::size_t>(i * n + j)];
      ASSERT_NEAR(one[static_cast<std::size_t>(i * n + j)], expected, 1e-5 * (alpha * size + 1.0))
          << "C(" << i << ", " << j << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Splits, ParallelSgemm,
    ::testing::Combine(::testing::Values(Shape3{300, 40, 50},      // rows of C
                                         Shape3{20, 500, 40},      // columns of C
                                         Shape3{24, 18, 5000},     // inner chunks (a weight gradient)
                                         Shape3{16, 16, 40000}),   // the most chunks, longer than the minimum
                       ::testing::Bool(), ::testing::Bool()));

}  // namespace
}  // namespace recforge::kernels
