// Evaluator: the interface of evaluation plugins (ranking metrics, ...).
#pragma once

#include <string_view>

namespace recforge {

class Evaluator {
 public:
  static constexpr const char* kPluginKind = "evaluator";
  virtual ~Evaluator() = default;
  virtual std::string_view type() const = 0;
};

}  // namespace recforge
