// dlopen of plugin libraries: a good plugin registers; an ABI mismatch and a
// non-plugin library are refused before registering; a library whose
// registration fails or is incomplete is refused with all of it undone.
#include <gtest/gtest.h>

#include "recforge/model/model.hpp"
#include "recforge/registry/kernel_registry.hpp"
#include "recforge/registry/plugin_abi.hpp"
#include "recforge/registry/plugin_loader.hpp"
#include "recforge/registry/plugin_registry.hpp"
#include "testing/error_testing.hpp"

namespace recforge {
namespace {

bool is_loaded(const std::string& library) {
  for (const std::string& path : loaded_plugin_libraries())
    if (path.find(library) != std::string::npos) return true;
  return false;
}

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
  EXPECT_TRUE(is_loaded("loader_test_good_plugin"));
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

TEST(PluginLoader, RefusesAKernelWithoutACpuReferenceAndRegistersNothing) {
  // Twice: a refused library leaves nothing behind, so the second try is
  // refused the same way (it used to succeed silently, half registered).
  for (int attempt = 0; attempt < 2; ++attempt) {
    RF_EXPECT_ERROR(load_plugin_library(CUDA_ONLY_PLUGIN), ErrorKind::kInvalidArgument,
                    "missing CPU reference kernel for 1 op(s); every op needs one:\n  loader_test_cuda_only_double");
    EXPECT_FALSE(KernelRegistry::instance().has("loader_test_cuda_only_double", DeviceType::kCUDA));
    EXPECT_EQ(ModelRegistry::instance().find("loader_test_cuda_only"), nullptr);
    EXPECT_FALSE(is_loaded("loader_test_cuda_only_plugin"));
  }
  EXPECT_NO_THROW(KernelRegistry::instance().check_complete());
}

TEST(PluginLoader, AFailedRegistrationUndoesTheOnesBeforeIt) {
  // The clash library's model registers, then its kernel clashes with the
  // good library's: the model must go too.
  load_plugin_library(GOOD_PLUGIN);
  const std::size_t kernels_before = KernelRegistry::instance().count();
  for (int attempt = 0; attempt < 2; ++attempt) {
    RF_EXPECT_ERROR(load_plugin_library(CLASH_PLUGIN), ErrorKind::kInvalidArgument,
                    "failed to register: op 'loader_test_good_double' has two cpu kernels");
    EXPECT_EQ(ModelRegistry::instance().find("loader_test_clash"), nullptr);
    EXPECT_EQ(KernelRegistry::instance().count(), kernels_before);
    EXPECT_FALSE(is_loaded("loader_test_clash_plugin"));
  }
  // The good library's kernel is still the one registered, and still callable.
  using DoubleFn = int(int);
  const auto fn = reinterpret_cast<DoubleFn*>(
      KernelRegistry::instance().find("loader_test_good_double", DeviceType::kCPU, typeid(DoubleFn)));
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(fn(4), 8);
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
