// Metric directions (see metric_direction.hpp).
#include "recforge/eval/metric_direction.hpp"

#include "recforge/config/config_node.hpp"
#include "recforge/core/error.hpp"

namespace recforge {

bool smaller_is_better(std::string_view metric) {
  const std::string_view base = metric.substr(0, metric.find('['));
  return base == "rmse" || base == "mae";
}

bool maximize_metric(const ConfigNode& mode, const std::string& metric) {
  const bool smaller = smaller_is_better(metric);
  if (mode.is_null()) return !smaller;
  const bool maximize = mode.as_string() == "max";
  RF_CHECK_KIND(ErrorKind::kConfig, !(smaller && maximize), mode.where(), ": ", mode.path(), " max with ", metric,
                ", an error that is better smaller: the worst values would win (set min, or leave the mode out)");
  return maximize;
}

}  // namespace recforge
