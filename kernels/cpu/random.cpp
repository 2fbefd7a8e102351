// CPU reference kernels for fill_uniform and fill_normal: one loop each.
#include "recforge/kernels/random.hpp"
#include "recforge/kernels/random_math.hpp"

namespace recforge::kernels {
namespace {

// out is (N) f32, contiguous.
void fill_uniform_cpu(const Resources&, TensorView out, float low, float high, std::uint64_t seed,
                      std::uint64_t stream) {
  float* data = out.data_as<float>();
  const std::int64_t n = out.numel();
  const float scale = high - low;
#pragma omp parallel for schedule(static) if (n > (std::int64_t{1} << 16))
  for (std::int64_t i = 0; i < n; ++i) {
    data[i] = detail::uniform_element(seed, stream, static_cast<std::uint64_t>(i), low, scale);
  }
}

void fill_normal_cpu(const Resources&, TensorView out, float mean, float stddev, std::uint64_t seed,
                     std::uint64_t stream) {
  float* data = out.data_as<float>();
  const std::int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > (std::int64_t{1} << 16))
  for (std::int64_t i = 0; i < n; ++i) {
    data[i] = detail::normal_element(seed, stream, static_cast<std::uint64_t>(i), mean, stddev);
  }
}

}  // namespace

RF_REGISTER_KERNEL(fill_uniform, kCPU, fill_uniform_cpu);
RF_REGISTER_KERNEL(fill_normal, kCPU, fill_normal_cpu);

}  // namespace recforge::kernels
