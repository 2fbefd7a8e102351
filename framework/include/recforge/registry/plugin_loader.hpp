// Loads out-of-tree plugin libraries (paths from the config's `plugins:` list or
// `recforge --plugin PATH`). A loaded library is never unloaded, and loading
// the same file again is a no-op; a refused one registers nothing, is closed,
// and is refused again if tried again. Errors name the path and say what to do.
#pragma once

#include <string>
#include <vector>

namespace recforge {

// dlopen()s `path`, checks its ABI version and applies its registrations.
void load_plugin_library(const std::string& path);
// Paths of the libraries loaded so far (canonical).
std::vector<std::string> loaded_plugin_libraries();

}  // namespace recforge
