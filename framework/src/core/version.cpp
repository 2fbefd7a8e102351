// Version strings injected by CMake (see framework/CMakeLists.txt).
#include "recforge/core/version.hpp"

namespace recforge {
std::string_view version() { return RECFORGE_VERSION_STRING; }
std::string_view git_revision() { return RECFORGE_GIT_REVISION; }
}  // namespace recforge
