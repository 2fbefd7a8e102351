// dlopen of plugin libraries: a good plugin registers, an ABI mismatch and a
// non-plugin library are refused with messages that say why, before registering.
#include <gtest/gtest.h>

#include "recforge/model/model.hpp"
#include "recforge/registry/kernel_registry.hpp"
#include "recforge/registry/plugin_abi.hpp"
#include "recforge/registry/plugin_loader.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

TEST(PluginLoader, LoadsAGoodPluginAndRegistersItsModel) {
  ASSERT_EQ(ModelRegistry::instance().find("loader_test_good"), nullptr);
  load_plugin_library(GOOD_PLUGIN);
  const auto* entry = ModelRegistry::instance().find("loader_test_good");
  ASSERT_NE(entry, nullptr);
  EXPECT_NE(entry->origin.find("loader_test_good_plugin"), std::string::npos) << entry->origin;
  const ConfigNode resolved = entry->schema().resolve(ConfigNode::null());
  EXPECT_EQ(resolved.get_int("width"), 3);
  EXPECT_EQ(entry->create(resolved)->type(), "loader_test_good");
  // Its kernel too, once the ABI check passed, naming the library.
  using DoubleFn = int(int);
  const auto fn = reinterpret_cast<DoubleFn*>(
      KernelRegistry::instance().find("loader_test_good_double", DeviceType::kCPU, typeid(DoubleFn)));
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(fn(21), 42);
  // Loading the same file again is a no-op (no duplicate-registration error).
  EXPECT_NO_THROW(load_plugin_library(GOOD_PLUGIN));
  EXPECT_EQ(loaded_plugin_libraries().size(), 1u);
}

TEST(PluginLoader, RefusesAnAbiMismatchWithBothVersions) {
  RF_EXPECT_ERROR(load_plugin_library(BAD_ABI_PLUGIN), ErrorKind::kInvalidArgument,
                  "was built for recforge plugin ABI 9999, but this recforge has plugin ABI " +
                      std::to_string(kPluginAbiVersion));
  EXPECT_EQ(ModelRegistry::instance().find("loader_test_bad_abi"), nullptr);
  // Nor its kernel: registered while dlopen ran, it would point into the
  // library the loader just closed.
  EXPECT_FALSE(KernelRegistry::instance().has("loader_test_bad_abi_double", DeviceType::kCPU));
}

TEST(PluginLoader, RefusesAKernelWithoutACpuReference) {
  RF_EXPECT_ERROR(load_plugin_library(CUDA_ONLY_PLUGIN), ErrorKind::kInvalidArgument,
                  "missing CPU reference kernel for 1 op(s); every op needs one:\n  loader_test_cuda_only_double");
  KernelRegistry::instance().remove_for_testing("loader_test_cuda_only_double", DeviceType::kCUDA);
}

TEST(PluginLoader, RefusesALibraryWithoutTheEntryPoints) {
  RF_EXPECT_ERROR(load_plugin_library(NOT_A_PLUGIN), ErrorKind::kInvalidArgument, "is not a recforge plugin");
}

TEST(PluginLoader, MissingFileIsNotFound) {
  RF_EXPECT_ERROR(load_plugin_library("/nonexistent/libnothing.so"), ErrorKind::kNotFound,
                  "plugin library '/nonexistent/libnothing.so' does not exist");
}

}  // namespace
}  // namespace recforge
