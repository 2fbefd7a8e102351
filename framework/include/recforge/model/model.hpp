// Model: the interface every model plugin implements. The trainer drives it;
// see framework/README.md ("How a plugin plugs in").
#pragma once

#include <string_view>

namespace recforge {

class Model {
 public:
  static constexpr const char* kPluginKind = "model";
  virtual ~Model() = default;
  // The registered name ("als", "ncf", ...).
  virtual std::string_view type() const = 0;
};

}  // namespace recforge
