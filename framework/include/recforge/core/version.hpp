// The recforge version and the git revision it was built from.
#pragma once

#include <string_view>

namespace recforge {
std::string_view version();
std::string_view git_revision();
}  // namespace recforge
