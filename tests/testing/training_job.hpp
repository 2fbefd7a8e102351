// A small MF job on the tiny synthetic preset, shared by the trainer tests.
#pragma once

#include <string>

#include "recforge/config/job_config.hpp"
#include "recforge/data/prepare.hpp"

namespace recforge::testing {

inline ConfigNode tiny_job(const std::string& model_and_train) {
  const std::string yaml = "data:\n  format: synthetic\n  synthetic: {preset: tiny}\n  split: {method: leave_one_out}\n"
                           "  cache: false\n" + model_and_train;
  return resolve_job_config(load_config_string(yaml, "test_job.yaml"));
}

inline data::Dataset tiny_dataset(const ConfigNode& job) { return data::prepare_dataset(job.section("data"), 42); }

}  // namespace recforge::testing
