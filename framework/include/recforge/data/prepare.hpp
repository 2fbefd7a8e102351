// `data:` section of a job config, and the preparation pipeline behind
// `recforge data prepare` and every training run:
//
//   read (multi-threaded, strict) -> map ids -> implicit threshold -> canonical
//   order (user, time) -> de-duplicate -> k-core -> split -> drop cold held-out
//
// The result is cached as HDF5 under data.cache_dir, keyed by a hash of the
// preparation options and the input files' identity (path, size, mtime); later
// runs with the same inputs and options load the cache instead. The dataset's
// fingerprint (recorded in checkpoints) hashes the input *contents* and options.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recforge/config/schema.hpp"
#include "recforge/data/reader.hpp"
#include "recforge/data/split.hpp"
#include "recforge/data/transforms.hpp"

namespace recforge::data {

Schema data_schema();

struct PrepareReport {
  std::vector<ReadReport> reads;
  std::int64_t below_threshold = 0;
  std::int64_t duplicates_removed = 0;
  KcoreReport kcore;
  SplitReport split;
  std::int64_t cold_heldout_dropped = 0;
  bool from_cache = false;
  std::string cache_path;
  std::string cache_error;  // why the cache could not be written (empty: written, loaded or off)
  double seconds = 0;
};

// Prepares (or loads from the cache) the dataset described by a resolved `data`
// section. `seed` seeds splits and synthetic data (the run seed).
Dataset prepare_dataset(const ConfigNode& data, std::uint64_t seed, PrepareReport* report = nullptr);

// One-line summary per split for logs and the CLI.
std::string describe_dataset(const Dataset& dataset);

// The dataset cache file format (HDF5); see framework/README.md, "Dataset cache".
inline constexpr std::int64_t kDatasetCacheVersion = 1;
// Written to a temporary file and renamed into place.
void save_dataset(const Dataset& dataset, const std::string& path, const std::string& options_yaml);
Dataset load_dataset(const std::string& path);

// "${VAR}/x" with VAR from the environment; a missing variable is a config error naming `key`.
std::string expand_path(const std::string& text, const std::string& key);

}  // namespace recforge::data
