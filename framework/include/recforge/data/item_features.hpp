// Item side features: a set of categorical tags per item (MovieLens genres),
// read from the movies file that ships with each MovieLens release (or a
// generic delimited file) and aligned with a prepared dataset's dense item ids.
//
//   movies_csv  ml-latest, ml-20m, ml-25m movies.csv: header movieId,title,genres;
//               quoted titles (RFC 4180); genres "Action|Comedy" or "(no genres listed)"
//   movies_dat  ml-1m, ml-10m movies.dat: MovieID::Title::Genres
//   u_item      ml-100k u.item: id|title|date|video date|url|19 genre flags (0/1),
//               the flags named by u.genre beside it (or the published list)
//   csv         any delimited file with a header: an item column and a features
//               column holding a separated list ("a|b"); an item may take several
//               lines (one per feature, or lists to merge)
//
// Models read them through Dataset::item_features (two_tower's item tower).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "recforge/data/interactions.hpp"

namespace recforge::data {

enum class ItemFeatureFormat { kAuto, kMoviesCsv, kMoviesDat, kUItem, kCsv };

// Where the generic csv format finds things (data.item_features.*).
struct ItemFeatureColumns {
  std::string item = "item";          // header name of the item id column
  std::string features = "features";  // header name of the features column
  char delimiter = ',';
  std::string separator = "|";        // between features in one field
};
ItemFeatureFormat parse_item_feature_format(std::string_view name);
// kAuto resolved from the file name (movies.csv, movies.dat, u.item).
ItemFeatureFormat resolve_item_feature_format(ItemFeatureFormat format, const std::string& path);

struct ItemFeatures {
  std::vector<std::string> names;  // feature id -> name (e.g. "Comedy")
  Csr items;                       // dataset items x features, pattern only, columns sorted
  std::string path;
  std::int64_t file_items = 0;        // items the file describes
  std::int64_t unknown_items = 0;     // ... of which the dataset has no interaction
  std::int64_t items_without = 0;     // dataset items with no feature (absent or no tags)

  bool empty() const { return names.empty(); }
  std::int64_t num_features() const { return static_cast<std::int64_t>(names.size()); }
};

// Reads `path` and keeps the items of `items` (dense ids). A malformed line is
// an error naming path:line and the reason; a missing or empty file too.
ItemFeatures read_item_features(const std::string& path, ItemFeatureFormat format, const IdMap& items,
                                const ItemFeatureColumns& columns = {});

// Splits one RFC 4180 CSV line into fields ("" inside quotes is a quote).
// Returns false on an unterminated quote or text after a closing quote.
bool split_csv_line(std::string_view line, char delimiter, std::vector<std::string>& fields);

}  // namespace recforge::data
