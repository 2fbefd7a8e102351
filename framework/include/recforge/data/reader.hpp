// Readers for ratings files as users download them, and for the per-user
// adjacency lists of the NGCF/LightGCN benchmark splits.
//
//   movielens_csv  ratings.csv, header userId,movieId,rating,timestamp (ml-25m, ml-20m, ml-latest)
//   movielens_dat  ratings.dat, UserID::MovieID::Rating::Timestamp        (ml-1m, ml-10m)
//   movielens_100k u.data, user<TAB>item<TAB>rating<TAB>timestamp         (ml-100k)
//   csv / tsv      any delimited file, columns mapped by name (with a header) or by 0-based index
//   adjacency      one line per user: "uid item item ..." (Gowalla/Yelp/Amazon splits)
//
// Parsing runs on several threads over byte ranges of a memory-mapped file and
// is strict: a malformed line is an error "file:line:column: reason" quoting
// the line; with on_bad_line = skip, bad lines are counted and the first few
// reported, and more than max_bad_lines of them is still an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "recforge/data/interactions.hpp"

namespace recforge::data {

enum class Format { kAuto, kMovieLensCsv, kMovieLensDat, kMovieLens100k, kCsv, kTsv, kAdjacency };

Format parse_format(const std::string& name);
std::string format_name(Format format);
// kAuto resolved from the file name: ratings.csv, ratings.dat, u.data, *.txt (adjacency), *.tsv, *.csv.
// The readers then take any other *.csv whose first line is MovieLens' header
// (userId,movieId,rating,timestamp) as movielens_csv, unless columns are mapped.
Format detect_format(const std::string& path);

enum class BadLinePolicy { kError, kSkip };

struct ReadOptions {
  Format format = Format::kAuto;
  // csv/tsv only: delimiter, header, and column names (with a header) or 0-based indexes (without).
  char delimiter = ',';
  bool header = true;
  std::string user_column = "user";
  std::string item_column = "item";
  std::optional<std::string> rating_column;     // none: no ratings
  std::optional<std::string> timestamp_column;  // none: no timestamps
  // Ids: integers >= 0 (default) or arbitrary strings.
  bool integer_ids = true;
  // Rating validation; MovieLens formats set their published ranges when these are unset.
  std::optional<double> rating_min, rating_max, rating_step;
  BadLinePolicy on_bad_line = BadLinePolicy::kError;
  std::int64_t max_bad_lines = 0;       // with kSkip: more bad lines than this is still an error
  std::int64_t max_line_bytes = 1 << 20;
  int threads = 0;                      // 0: OpenMP default
  std::int64_t chunk_bytes = 1 << 20;   // parallel work unit (small values exercise chunk boundaries in tests)
};

// What reading produced besides the rows.
struct ReadReport {
  std::string path;
  Format format = Format::kAuto;
  std::int64_t lines = 0;         // data lines seen (header excluded)
  std::int64_t rows = 0;          // interactions kept
  std::int64_t bad_lines = 0;     // skipped under on_bad_line = skip
  std::int64_t blank_lines = 0;
  std::vector<std::string> bad_examples;  // "file:line:col: reason" for the first few
  std::string content_sha256;     // hex, of the file's bytes (block tree hash, see reader.cpp)
};

// Raw (original) ids of one column before they are mapped to dense ids.
struct RawIds {
  std::vector<std::int64_t> integers;
  std::vector<std::string> strings;
  std::size_t size() const { return integers.empty() ? strings.size() : integers.size(); }
};

// A parsed file: raw ids plus the other columns (rating/timestamp may be empty).
struct RawInteractions {
  RawIds users, items;
  std::vector<float> rating;
  std::vector<std::int64_t> timestamp;
  ReadReport report;
};

RawInteractions read_raw_interactions(const std::string& path, const ReadOptions& options);
// The same parsers over bytes in memory; `name` stands for the file in messages
// (and picks the format when options.format is kAuto).
RawInteractions parse_interactions(std::string_view bytes, const std::string& name, const ReadOptions& options);

// Maps raw ids of one kind (users or items) from several tables to shared dense
// ids, assigned in increasing order of the original ids (numeric for integers,
// bytewise for strings) so the mapping does not depend on file order or threads.
IdMap map_ids(const std::vector<const RawIds*>& columns, std::vector<std::vector<std::int32_t>*> dense_out);

}  // namespace recforge::data
