// MF kernels: CUDA against the CPU reference.
#include <gtest/gtest.h>

#include "mf/mf_kernels.hpp"
#include "recforge/core/tensor.hpp"
#include "recforge/core/philox.hpp"
#include "recforge/kernels/random.hpp"
#include "testing/gpu.hpp"
#include "testing/tensor_testing.hpp"

namespace recforge::mf {
namespace {

TEST(MfKernelsGpu, BothLossesMatchTheCpuReference) {
  RF_SKIP_WITHOUT_GPU();
  const Resources cpu = Resources::cpu(), gpu = Resources::cuda(0);
  for (std::int64_t d : {1, 31, 64, 130}) {
    const std::int64_t n = 777, users = 50, items = 80;
    Tensor P = Tensor::empty({users, d}, DType::kF32), Q = Tensor::empty({items, d}, DType::kF32);
    Tensor bu = Tensor::empty({users, 1}, DType::kF32), bi = Tensor::empty({items, 1}, DType::kF32);
    for (auto [t, s] : {std::pair{&P, 1}, std::pair{&Q, 2}, std::pair{&bu, 3}, std::pair{&bi, 4}}) {
      kernels::fill_normal(cpu, *t, 0, 0.3f, 7, static_cast<std::uint64_t>(s));
    }
    std::vector<std::int32_t> u(n), i(n), j(n);
    std::vector<float> r(n);
    for (std::int64_t k = 0; k < n; ++k) {
      u[k] = static_cast<std::int32_t>(philox_below(1, 1, k, users));
      i[k] = static_cast<std::int32_t>(philox_below(1, 2, k, items));
      j[k] = static_cast<std::int32_t>(philox_below(1, 3, k, items));
      r[k] = 0.5f * static_cast<float>(1 + philox_below(1, 4, k, 10));
    }
    for (bool bpr : {false, true}) {
      const auto outputs = [&](const Resources& res) {
        const auto dev = [&](const Tensor& t) { return t.to(res.device(), res.stream()); };
        const auto empty = [&](Shape s) { return Tensor::empty(s, DType::kF32, res.device(), res.stream()); };
        std::vector<Tensor> o = {empty({n, d}), empty({n, d}), empty({n, d}), empty({n, 1}),
                                 empty({n, 1}), empty({n, 1}), empty({n}),    empty({n})};
        // Tables and Batch hold views: the tensors they view must outlive the step.
        const Tensor p_on = dev(P), q_on = dev(Q), bu_on = dev(bu), bi_on = dev(bi);
        const Tensor u_on = dev(Tensor::from_vector(u)), i_on = dev(Tensor::from_vector(i)),
                     j_on = dev(Tensor::from_vector(j)), r_on = dev(Tensor::from_vector(r)),
                     g_on = dev(Tensor::from_vector(std::vector<float>{0.2f}));
        const Tables t{p_on, q_on, bu_on, bi_on, g_on};
        const Batch b{u_on, i_on, j_on, r_on};
        const Grads g{o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]};
        bpr ? bpr_step(res, t, b, g, 0.01f, 0.05f) : mse_step(res, t, b, g, 0.01f, 0.05f);
        res.synchronize();
        return o;
      };
      const auto expected = outputs(cpu), actual = outputs(gpu);
      for (std::size_t k = 0; k < expected.size(); ++k) {
        if ((bpr && (k == 3 || k == 6)) || (!bpr && (k == 2 || k == 5))) continue;  // fields the loss does not use
        RF_EXPECT_TENSOR_NEAR(actual[k], expected[k], 1e-5, 1e-4) << "d " << d << (bpr ? " bpr" : " mse") << " output " << k;
      }
    }
  }
}

}  // namespace
}  // namespace recforge::mf
