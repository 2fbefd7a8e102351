// tensors_near: element-wise comparison with a readable failure report.
#include "testing/tensor_testing.hpp"

#include <cmath>
#include <sstream>

#include "recforge/core/cuda_runtime.hpp"

namespace recforge::testing {

::testing::AssertionResult tensors_near(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  if (!(actual.shape() == expected.shape())) {
    return ::testing::AssertionFailure() << "shape " << actual.shape().str() << " vs expected "
                                         << expected.shape().str();
  }
  // The tensors may still be written on the producer's stream (non-blocking
  // streams do not order with the default one): wait for the whole device first.
  for (const Tensor* t : {&actual, &expected}) {
    if (t->device().is_cuda()) cuda::device_synchronize(t->device().index);
  }
  const Stream stream;
  const Tensor a = actual.device().is_cpu() ? actual.contiguous() : actual.to(Device::cpu(), stream);
  const Tensor b = expected.device().is_cpu() ? expected.contiguous() : expected.to(Device::cpu(), stream);
  if (actual.device().is_cuda()) Stream::cuda_default(actual.device().index).synchronize();
  if (expected.device().is_cuda()) Stream::cuda_default(expected.device().index).synchronize();
  const float* pa = a.data_as<float>();
  const float* pb = b.data_as<float>();
  std::int64_t mismatches = 0;
  double max_diff = 0;
  std::ostringstream report;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double diff = std::fabs(static_cast<double>(pa[i]) - pb[i]);
    const bool bad = !(diff <= atol + rtol * std::fabs(pb[i])) && !(std::isnan(pa[i]) && std::isnan(pb[i]));
    if (std::isfinite(diff)) max_diff = std::max(max_diff, diff);
    if (bad && ++mismatches <= 5) report << "\n  [" << i << "] actual " << pa[i] << " expected " << pb[i];
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << mismatches << " of " << a.numel() << " elements differ (atol " << atol
                                       << ", rtol " << rtol << "), max |diff| " << max_diff << report.str();
}

}  // namespace recforge::testing
