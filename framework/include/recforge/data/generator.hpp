// Synthetic interaction data shaped like MovieLens, with a signal a model can
// learn and a popularity baseline cannot:
//   - items: Zipf-like popularity (weight 1 / (rank + 10)^alpha, ranks shuffled),
//     each item belongs to one of T topics and has a quality offset;
//   - users: long-tailed activity (min + log-normal share of the remaining rows,
//     adjusted so the total is exact), a primary and a secondary topic;
//   - each interaction picks a topic (stay on the previous topic with some
//     probability, else primary/secondary/global by weight), then an item of
//     that topic by popularity, without repeating an item for the user;
//   - ratings on MovieLens' half-star grid from topic match, item quality,
//     user bias and noise; timestamps increasing per user between 1995 and 2019.
// Everything is drawn from Philox streams keyed by (seed, user), so the output is
// identical for a seed whatever the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "recforge/data/reader.hpp"

namespace recforge::data {

// Bumped whenever one preset and seed give other rows: synthetic datasets'
// fingerprints and cache keys carry it, so an old checkpoint or cache of
// other data is not taken for this one. 2: draws no longer share Philox words.
inline constexpr int kGeneratorVersion = 2;

struct GeneratorPreset {
  std::string name;
  std::int32_t users = 0;
  std::int32_t items = 0;
  std::int64_t interactions = 0;
  std::int32_t min_per_user = 20;
  std::int32_t topics = 32;
  double zipf_alpha = 1.0;
  double activity_sigma = 1.2;
};

// "ml25m" (162,541 users, 59,047 items, 25,000,095 rows), "ml1m", "ml100k", "tiny".
GeneratorPreset generator_preset(const std::string& name);
std::vector<std::string> generator_preset_names();

// Rows grouped by user (raw ids 1..users and 1..items), in time order per user.
RawInteractions generate_interactions(const GeneratorPreset& preset, std::uint64_t seed, int threads = 0);

// Writes rows in a reader format: movielens_csv (with header), movielens_dat,
// movielens_100k or csv (no header). Written to a temporary name and renamed.
void write_interactions(const RawInteractions& rows, const std::string& path, Format format);

}  // namespace recforge::data
