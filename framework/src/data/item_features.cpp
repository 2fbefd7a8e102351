// Item features: MovieLens movies.csv, movies.dat, u.item, and generic csv (see item_features.hpp).
#include "recforge/data/item_features.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "field_parsing.hpp"
#include "mapped_file.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/utf8.hpp"

namespace recforge::data {
namespace {

// ML-100K's u.genre, in flag order (used when u.genre is not beside u.item).
const std::vector<std::string> kUItemGenres = {
    "unknown", "Action",    "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance", "Sci-Fi",    "Thriller",  "War",       "Western"};
constexpr std::size_t kUItemLeadingFields = 5;  // id, title, release date, video date, IMDb url

// Lines of a file with their 1-based numbers; a trailing '\r' is dropped.
template <typename F>
void for_each_line(std::string_view bytes, F&& f) {
  std::int64_t number = 0;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(++number, line);
    pos = end + 1;
  }
}

std::vector<std::string> split(std::string_view text, std::string_view delimiter) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t next = text.find(delimiter, pos);
    out.emplace_back(text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) return out;
    pos = next + delimiter.size();
  }
}

std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 120;
  return std::string(line.substr(0, kMax)) + (line.size() > kMax ? "..." : "");
}

// Collects (item, tag names) per file line, then numbers the tags.
class Collector {
 public:
  // `repeats`: an item may take several lines, its features merged (generic
  // csv); MovieLens files list each movie once, so a repeat there is an error.
  Collector(const std::string& path, const IdMap& items, bool repeats = false)
      : path_(path), items_(items), repeats_(repeats), tags_(items.size()) {}

  void add(std::int64_t line, std::string_view id, const std::vector<std::string>& tags) {
    RF_CHECK_KIND(ErrorKind::kData, !id.empty(), path_, ":", line, ": empty item id");
    const auto [it, fresh] = first_line_.emplace(std::string(id), line);
    RF_CHECK_KIND(ErrorKind::kData, fresh || repeats_, path_, ":", line, ": item '", id,
                  "' is listed again (first at line ", it->second, ")");
    file_items_ += fresh;
    const std::optional<std::int32_t> dense = items_.find(id);
    if (!dense) {
      unknown_ += fresh;
      return;
    }
    for (const std::string& t : tags) {
      if (!t.empty()) tags_[static_cast<std::size_t>(*dense)].push_back(t);
    }
  }

  // Features numbered in `order` when given (u.item's flag order), else sorted by name.
  ItemFeatures finish(std::vector<std::string> order = {}) {
    ItemFeatures out;
    out.path = path_;
    out.file_items = file_items_;
    out.unknown_items = unknown_;
    if (order.empty()) {
      for (const auto& list : tags_) order.insert(order.end(), list.begin(), list.end());
      std::sort(order.begin(), order.end());
      order.erase(std::unique(order.begin(), order.end()), order.end());
    }
    std::map<std::string, std::int32_t, std::less<>> index;
    for (std::size_t k = 0; k < order.size(); ++k) index.emplace(order[k], static_cast<std::int32_t>(k));
    out.names = std::move(order);
    out.items.offsets.assign(1, 0);
    for (auto& list : tags_) {
      std::vector<std::int32_t> cols;
      for (const std::string& t : list) cols.push_back(index.at(t));
      std::sort(cols.begin(), cols.end());
      cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
      if (cols.empty()) ++out.items_without;
      out.items.col.insert(out.items.col.end(), cols.begin(), cols.end());
      out.items.offsets.push_back(static_cast<std::int64_t>(out.items.col.size()));
    }
    return out;
  }

 private:
  std::string path_;
  const IdMap& items_;
  bool repeats_;
  std::vector<std::vector<std::string>> tags_;  // per dense item
  std::map<std::string, std::int64_t, std::less<>> first_line_;
  std::int64_t file_items_ = 0, unknown_ = 0;
};

std::vector<std::string> genre_list(const std::string& field) {
  if (field == "(no genres listed)") return {};
  return split(field, "|");
}

ItemFeatures read_delimited(const std::string& path, std::string_view bytes, const IdMap& items,
                            const ItemFeatureColumns& columns, bool movielens);

// movies.csv: the delimited layout with MovieLens' column names.
ItemFeatures read_movies_csv(const std::string& path, std::string_view bytes, const IdMap& items) {
  return read_delimited(path, bytes, items, {.item = "movieId", .features = "genres"}, /*movielens=*/true);
}

ItemFeatures read_movies_dat(const std::string& path, std::string_view bytes, const IdMap& items) {
  Collector c(path, items);
  for_each_line(bytes, [&](std::int64_t line, std::string_view text) {
    if (text.empty()) return;
    const std::vector<std::string> fields = split(text, "::");
    RF_CHECK_KIND(ErrorKind::kData, fields.size() == 3, path, ":", line,
                  ": expected 3 fields MovieID::Title::Genres, got ", fields.size(), "\n  line: ", excerpt(text));
    c.add(line, fields[0], genre_list(fields[2]));
  });
  return c.finish();
}

// u.genre: "name|index" lines in index order.
std::vector<std::string> u_genre_names(const std::string& u_item_path) {
  const std::string path = (std::filesystem::path(u_item_path).parent_path() / "u.genre").string();
  if (!std::filesystem::exists(path)) return kUItemGenres;
  const MappedFile file(path);
  std::vector<std::string> names;
  for_each_line(file.bytes(), [&](std::int64_t line, std::string_view text) {
    if (text.empty()) return;
    const std::vector<std::string> fields = split(text, "|");
    RF_CHECK_KIND(ErrorKind::kData, fields.size() == 2 && fields[1] == std::to_string(names.size()), path, ":", line,
                  ": expected 'name|", names.size(), "', got '", excerpt(text), "'");
    names.push_back(fields[0]);
  });
  return names;
}

ItemFeatures read_u_item(const std::string& path, std::string_view bytes, const IdMap& items) {
  const std::vector<std::string> genres = u_genre_names(path);
  Collector c(path, items);
  for_each_line(bytes, [&](std::int64_t line, std::string_view text) {
    if (text.empty()) return;
    const std::vector<std::string> fields = split(text, "|");
    RF_CHECK_KIND(ErrorKind::kData, fields.size() == kUItemLeadingFields + genres.size(), path, ":", line,
                  ": expected ", kUItemLeadingFields + genres.size(), " '|'-separated fields (id, title, dates, url, ",
                  genres.size(), " genre flags), got ", fields.size(), "\n  line: ", excerpt(text));
    std::vector<std::string> tags;
    for (std::size_t g = 0; g < genres.size(); ++g) {
      const std::string& flag = fields[kUItemLeadingFields + g];
      RF_CHECK_KIND(ErrorKind::kData, flag == "0" || flag == "1", path, ":", line, ": genre flag ", g + 1, " (",
                    genres[g], ") is '", flag, "', expected 0 or 1");
      if (flag == "1") tags.push_back(genres[g]);
    }
    c.add(line, fields[0], tags);
  });
  return c.finish(genres);
}

// A header names the item and features columns; quoted fields as RFC 4180.
// `movielens`: movies.csv, one line per film, "(no genres listed)".
ItemFeatures read_delimited(const std::string& path, std::string_view bytes, const IdMap& items,
                            const ItemFeatureColumns& columns, bool movielens) {
  RF_CHECK_KIND(ErrorKind::kConfig, !columns.separator.empty(), "data.item_features.separator must not be empty");
  Collector c(path, items, /*repeats=*/!movielens);
  std::vector<std::string> fields;
  int id_column = -1, features_column = -1;
  std::size_t width = 0;
  for_each_line(bytes, [&](std::int64_t line, std::string_view text) {
    if (text.empty()) return;
    RF_CHECK_KIND(ErrorKind::kData, split_csv_line(text, columns.delimiter, fields), path, ":", line,
                  ": unterminated or misplaced quote\n  line: ", excerpt(text));
    if (width == 0) {
      for (std::size_t k = 0; k < fields.size(); ++k) {
        if (fields[k] == columns.item) id_column = static_cast<int>(k);
        if (fields[k] == columns.features) features_column = static_cast<int>(k);
      }
      RF_CHECK_KIND(ErrorKind::kData, id_column >= 0 && features_column >= 0, path, ":", line,
                    movielens ? ": expected a header with columns movieId and genres (movies.csv), got '"
                              : ": expected a header naming the columns '" + columns.item + "' and '" +
                                    columns.features + "' (data.item_features.item_column, features_column), got '",
                    excerpt(text), "'");
      width = fields.size();
      return;
    }
    RF_CHECK_KIND(ErrorKind::kData, fields.size() == width, path, ":", line, ": expected ", width, " fields, got ",
                  fields.size(), "\n  line: ", excerpt(text));
    const std::string& list = fields[static_cast<std::size_t>(features_column)];
    c.add(line, fields[static_cast<std::size_t>(id_column)],
          movielens ? genre_list(list) : list.empty() ? std::vector<std::string>{} : split(list, columns.separator));
  });
  RF_CHECK_KIND(ErrorKind::kData, width > 0, path, ": no header line");
  return c.finish();
}

}  // namespace

bool split_csv_line(std::string_view line, char delimiter, std::vector<std::string>& fields) {
  fields.clear();
  std::size_t pos = 0;
  while (true) {
    if (pos < line.size() && line[pos] == '"') {
      std::string value;
      const std::size_t i = detail::unquote_field(line, pos, value);
      if (i == std::string_view::npos || (i < line.size() && line[i] != delimiter)) return false;
      fields.push_back(std::move(value));
      if (i >= line.size()) return true;
      pos = i + 1;
      continue;
    }
    const std::size_t next = line.find(delimiter, pos);
    fields.emplace_back(line.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) return true;
    pos = next + 1;
  }
}

ItemFeatureFormat parse_item_feature_format(std::string_view name) {
  if (name == "auto") return ItemFeatureFormat::kAuto;
  if (name == "movies_csv") return ItemFeatureFormat::kMoviesCsv;
  if (name == "movies_dat") return ItemFeatureFormat::kMoviesDat;
  if (name == "u_item") return ItemFeatureFormat::kUItem;
  if (name == "csv") return ItemFeatureFormat::kCsv;
  RF_THROW(ErrorKind::kConfig, "unknown item feature format '", name, "' (auto, movies_csv, movies_dat, u_item, csv)");
}

ItemFeatureFormat resolve_item_feature_format(ItemFeatureFormat format, const std::string& path) {
  if (format != ItemFeatureFormat::kAuto) return format;
  const std::string name = std::filesystem::path(path).filename().string();
  if (name.ends_with(".csv")) return ItemFeatureFormat::kMoviesCsv;
  if (name.ends_with(".dat")) return ItemFeatureFormat::kMoviesDat;
  if (name == "u.item") return ItemFeatureFormat::kUItem;
  RF_THROW(ErrorKind::kConfig, "data.item_features.path '", path,
           "': cannot tell the format from the name (movies.csv, movies.dat, u.item); set data.item_features.format "
           "(csv for any delimited file with a header)");
}

ItemFeatures read_item_features(const std::string& path, ItemFeatureFormat format, const IdMap& items,
                                const ItemFeatureColumns& columns) {
  const ItemFeatureFormat resolved = resolve_item_feature_format(format, path);
  const MappedFile file(path);
  // A byte order mark would glue itself to the first header name or item id.
  const std::string_view bytes = without_utf8_bom(file.bytes());
  switch (resolved) {
    case ItemFeatureFormat::kMoviesCsv: return read_movies_csv(path, bytes, items);
    case ItemFeatureFormat::kMoviesDat: return read_movies_dat(path, bytes, items);
    case ItemFeatureFormat::kUItem: return read_u_item(path, bytes, items);
    case ItemFeatureFormat::kCsv: return read_delimited(path, bytes, items, columns, /*movielens=*/false);
    case ItemFeatureFormat::kAuto: break;
  }
  RF_THROW(ErrorKind::kInternal, "unresolved item feature format");
}

}  // namespace recforge::data
