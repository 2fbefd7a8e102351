// Which way a metric improves, for the keys that watch one
// (train.early_stopping.metric, checkpoint.keep_best).
#pragma once

#include <string>
#include <string_view>

namespace recforge {

class ConfigNode;

// The error metrics (rmse, mae, and their per-group forms such as rmse[cold])
// are better smaller; every other metric (recall@K, ndcg@K, ...) larger.
bool smaller_is_better(std::string_view metric);

// Whether larger values of `metric` are better for a key with the mode node
// `mode` (max, min, or null: the metric's own direction). A mode against an
// error metric's direction would keep the worst values: a config error
// naming the key.
bool maximize_metric(const ConfigNode& mode, const std::string& metric);

}  // namespace recforge
