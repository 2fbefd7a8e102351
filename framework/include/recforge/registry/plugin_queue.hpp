// Inside an out-of-tree plugin library (RECFORGE_PLUGIN_LIBRARY, defined by
// recforge_add_plugin): the queue its registrations (models, evaluators,
// kernels) wait in until the loader has checked the library's ABI version and
// calls recforge_plugin_register (plugin_abi.hpp). Nothing of a refused
// library is ever registered, so unloading it leaves nothing dangling.
#pragma once

#ifdef RECFORGE_PLUGIN_LIBRARY
#include <functional>
#include <string>
#include <vector>

namespace recforge::detail {

// Each entry registers one thing, given the library's path (for its origin).
__attribute__((visibility("hidden"))) inline std::vector<std::function<void(const std::string&)>>&
pending_plugin_registrations() {
  static std::vector<std::function<void(const std::string&)>> pending;
  return pending;
}

}  // namespace recforge::detail
#endif
