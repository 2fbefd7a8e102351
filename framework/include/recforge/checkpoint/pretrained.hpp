// Parameters of another run as a starting point (e.g. NeuMF from pre-trained
// GMF and MLP runs): the newest valid version of a checkpoint directory,
// verified like a resume (manifest, hashes, format) and checked to come from
// the expected model type and the same data (dense ids must mean the same users
// and items).
#pragma once

#include <string>
#include <string_view>

#include "recforge/checkpoint/checkpoint_file.hpp"
#include "recforge/config/config_node.hpp"

namespace recforge::checkpoint {

struct Pretrained {
  CheckpointReader reader;
  ConfigNode config;  // the job config the checkpoint was trained with
};

// `key` names the config key that gave `dir` in errors.
Pretrained open_pretrained(const std::string& dir, std::string_view model_type, const data::Dataset& dataset,
                           const std::string& key);

}  // namespace recforge::checkpoint
