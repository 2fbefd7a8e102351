// Kernel registry: dispatch by device, the missing-kernel error, duplicates,
// signature mismatches, and the "every op has a CPU kernel" startup check.
#include <gtest/gtest.h>

#include "recforge/core/tensor.hpp"
#include "recforge/kernels/random.hpp"
#include "recforge/registry/kernel_registry.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

using AddOneFn = void(TensorView);
RF_DECLARE_OP(registry_test_add_one, AddOneFn);

void add_one_cpu(TensorView t) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] += 1;
}
constexpr int kAddOneRegisteredAt = __LINE__ + 1;
RF_REGISTER_KERNEL(registry_test_add_one, kCPU, add_one_cpu);

TEST(KernelRegistry, DispatchesOnTheTensorsDevice) {
  Tensor t = Tensor::from_vector(std::vector<float>{1, 2});
  dispatch<registry_test_add_one_op>(t.device())(t);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{2, 3}));
}

TEST(KernelRegistry, MissingDeviceKernelNamesTheOpAndWhatExists) {
  RF_EXPECT_ERROR(dispatch<registry_test_add_one_op>(Device::cuda(0)), ErrorKind::kNotFound,
                  "no cuda kernel registered for op 'registry_test_add_one' (available on: cpu)");
}

using NeverFn = void();
RF_DECLARE_OP(never_registered, NeverFn);

TEST(KernelRegistry, UnknownOpSaysSo) {
  RF_EXPECT_ERROR(dispatch<never_registered_op>(Device::cpu()), ErrorKind::kNotFound,
                  "the op has no kernels at all");
}

TEST(KernelRegistry, SecondKernelForTheSameDeviceIsRejectedNamingBothPlaces) {
  RF_EXPECT_ERROR(KernelRegistry::instance().add("registry_test_add_one", DeviceType::kCPU, typeid(AddOneFn),
                                                 reinterpret_cast<KernelRegistry::AnyFn>(&add_one_cpu),
                                                 "elsewhere.cpp:7"),
                  ErrorKind::kInternal, std::string("tests/registry/kernel_registry_test.cpp:") + std::to_string(kAddOneRegisteredAt) +
                      " and elsewhere.cpp:7");
}

TEST(KernelRegistry, DifferentSignatureIsRejected) {
  using OtherFn = void(TensorView, int);
  RF_EXPECT_ERROR(KernelRegistry::instance().add("registry_test_add_one", DeviceType::kCUDA, typeid(OtherFn),
                                                 nullptr, "other.cu:3"),
                  ErrorKind::kInternal, "different signature");
}

TEST(KernelRegistry, BuiltInOpsHaveCpuKernels) {
  EXPECT_NO_THROW(KernelRegistry::instance().check_complete());
  EXPECT_TRUE(KernelRegistry::instance().has("fill_uniform", DeviceType::kCPU));
  EXPECT_TRUE(KernelRegistry::instance().has("fill_normal", DeviceType::kCPU));
}

TEST(KernelRegistry, AnOpWithoutCpuKernelFailsTheStartupCheck) {
  KernelRegistry::instance().add("registry_test_cuda_only", DeviceType::kCUDA, typeid(AddOneFn),
                                 reinterpret_cast<KernelRegistry::AnyFn>(&add_one_cpu), "gpu_only.cu:1");
  RF_EXPECT_ERROR(KernelRegistry::instance().check_complete(), ErrorKind::kInternal,
                  "registry_test_cuda_only (registered at gpu_only.cu:1)");
  KernelRegistry::instance().remove_for_testing("registry_test_cuda_only", DeviceType::kCUDA);
  EXPECT_NO_THROW(KernelRegistry::instance().check_complete());
}

}  // namespace
}  // namespace recforge
