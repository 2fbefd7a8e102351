// A small MF job on the tiny synthetic preset, shared by the trainer tests.
#pragma once

#include <string>

#include "recforge/config/job_config.hpp"
#include "recforge/data/item_features.hpp"
#include "recforge/data/prepare.hpp"

namespace recforge::testing {

inline ConfigNode tiny_job(const std::string& model_and_train) {
  const std::string yaml = "data:\n  format: synthetic\n  synthetic: {preset: tiny}\n  split: {method: leave_one_out}\n"
                           "  cache: false\n" + model_and_train;
  return resolve_job_config(load_config_string(yaml, "test_job.yaml"));
}

inline data::Dataset tiny_dataset(const ConfigNode& job) { return data::prepare_dataset(job.section("data"), 42); }

// `d` with made-up genres: item i has genre i % 4 and genre 4 + i % 3, but
// every fifth item has none (an empty bag).
inline data::Dataset with_genres(data::Dataset d) {
  auto f = std::make_shared<data::ItemFeatures>();
  f->names = {"g0", "g1", "g2", "g3", "g4", "g5", "g6"};
  f->items.offsets.assign(1, 0);
  for (std::int32_t i = 0; i < d.num_items(); ++i) {
    if (i % 5 != 0) f->items.col.insert(f->items.col.end(), {i % 4, 4 + i % 3});
    f->items.offsets.push_back(static_cast<std::int64_t>(f->items.col.size()));
  }
  d.item_features = std::move(f);
  return d;
}

}  // namespace recforge::testing
