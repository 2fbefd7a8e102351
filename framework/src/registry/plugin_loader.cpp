// dlopen-based loading of out-of-tree plugins with an ABI check before registration.
#include "recforge/registry/plugin_loader.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "recforge/core/error.hpp"
#include "recforge/registry/kernel_registry.hpp"
#include "recforge/registry/plugin_abi.hpp"
#include "recforge/registry/plugin_registry.hpp"

namespace recforge {
namespace {

std::mutex& loader_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::vector<std::string>& loaded() {
  static std::vector<std::string> libraries;
  return libraries;
}

struct RegistryMarks {
  std::size_t models, evaluators, kernels;
};

RegistryMarks mark_registries() {
  return {ModelRegistry::instance().count(), EvaluatorRegistry::instance().count(),
          KernelRegistry::instance().count()};
}

void roll_back_registries(const RegistryMarks& marks) {
  ModelRegistry::instance().roll_back_to(marks.models);
  EvaluatorRegistry::instance().roll_back_to(marks.evaluators);
  KernelRegistry::instance().roll_back_to(marks.kernels);
}

}  // namespace

void load_plugin_library(const std::string& path) {
  std::error_code ec;
  RF_CHECK_KIND(ErrorKind::kNotFound, std::filesystem::is_regular_file(path, ec), "plugin library '", path,
                "' does not exist");
  const std::string canonical = std::filesystem::canonical(path, ec).string();
  std::lock_guard lock(loader_mutex());
  for (const std::string& done : loaded())
    if (done == canonical) return;

  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    RF_THROW(ErrorKind::kNotFound, "cannot load plugin library '", path, "': ", why ? why : "unknown dlopen error");
  }
  using AbiFn = int (*)();
  using RegisterFn = int (*)(const char*, char*, std::size_t);
  auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "recforge_plugin_abi_version"));
  auto register_fn = reinterpret_cast<RegisterFn>(dlsym(handle, "recforge_plugin_register"));
  if (abi == nullptr || register_fn == nullptr) {
    dlclose(handle);  // nothing of it was registered; safe to close
    RF_THROW(ErrorKind::kInvalidArgument, "'", path,
             "' is not a recforge plugin: it does not export recforge_plugin_abi_version/"
             "recforge_plugin_register (build it with recforge_add_plugin from find_package(recforge))");
  }
  const int version = abi();
  if (version != kPluginAbiVersion) {
    dlclose(handle);
    RF_THROW(ErrorKind::kInvalidArgument, "plugin '", path, "' was built for recforge plugin ABI ", version,
             ", but this recforge has plugin ABI ", kPluginAbiVersion,
             "; rebuild the plugin against this recforge installation");
  }
  // All or nothing: a library that fails to register, or registers a kernel
  // without a CPU reference, leaves no entry behind (they would point into a
  // closed library) and is not marked loaded, so loading it again fails again.
  const RegistryMarks before = mark_registries();
  char error[1024] = {};
  std::string refusal;
  if (register_fn(canonical.c_str(), error, sizeof error) != 0) {
    refusal = std::string(" failed to register: ") + error;
  } else {
    try {
      KernelRegistry::instance().check_complete();  // its kernels, like ours, each need a CPU reference
    } catch (const Error& e) {
      refusal = ": " + e.message();
    }
  }
  if (!refusal.empty()) {
    roll_back_registries(before);
    dlclose(handle);
    RF_THROW(ErrorKind::kInvalidArgument, "plugin '", path, "'", refusal);
  }
  loaded().push_back(canonical);
}

std::vector<std::string> loaded_plugin_libraries() {
  std::lock_guard lock(loader_mutex());
  return loaded();
}

}  // namespace recforge
