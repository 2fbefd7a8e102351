// Evaluator defaults.
#include "recforge/eval/evaluator.hpp"

#include <fmt/format.h>

namespace recforge {

std::string Evaluator::format(const MetricValues& values) const {
  std::string out;
  for (const auto& [name, value] : values) out += fmt::format("  {:<32} {:.6f}\n", name, value);
  return out;
}

}  // namespace recforge
