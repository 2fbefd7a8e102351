// A small but real checkpoint version for repository-level tests.
#pragma once

#include <cstdint>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/checkpoint/repository.hpp"

namespace recforge::testing {

// Publishes a version at `step` in `repo`: one 3x2 parameter "w" whose first
// value is the step, two users, one item, and `metric` as its recall@20.
inline checkpoint::Version publish_small_checkpoint(checkpoint::CheckpointRepository& repo, std::int64_t step,
                                                    double metric = 0) {
  checkpoint::Contents c;
  c.meta.model_type = "mf";
  c.position.global_step = step;
  Tensor t = Tensor::zeros({3, 2}, DType::kF32);
  t.data_as<float>()[0] = static_cast<float>(step);
  c.params.push_back({"w", "dense", t, {}});
  c.users = data::IdMap::integers({1, 2});
  c.items = data::IdMap::integers({5});
  c.serving.item_popularity = {1};
  c.serving.seen_offsets = {0, 1, 1};
  c.serving.seen_items = {0};
  checkpoint::Manifest m;
  m.format_version = checkpoint::kFormatVersion;
  m.model_type = "mf";
  m.metrics = {{"recall@20", metric}};
  return repo.publish(step, [&](const std::string& path) { checkpoint::write_checkpoint(path, c); }, m);
}

}  // namespace recforge::testing
