// Format names and detection, the reader dispatch, content digests, and the
// mapping of original ids to dense ids.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mapped_file.hpp"
#include "reader_internal.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/sha256.hpp"
#include "recforge/core/utf8.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::data {

Format parse_format(const std::string& name) {
  if (name == "auto") return Format::kAuto;
  if (name == "movielens_csv") return Format::kMovieLensCsv;
  if (name == "movielens_dat") return Format::kMovieLensDat;
  if (name == "movielens_100k") return Format::kMovieLens100k;
  if (name == "csv") return Format::kCsv;
  if (name == "tsv") return Format::kTsv;
  if (name == "adjacency") return Format::kAdjacency;
  RF_THROW(ErrorKind::kConfig, "unknown data format '", name,
           "' (auto, movielens_csv, movielens_dat, movielens_100k, csv, tsv, adjacency)");
}

std::string format_name(Format format) {
  switch (format) {
    case Format::kAuto: return "auto";
    case Format::kMovieLensCsv: return "movielens_csv";
    case Format::kMovieLensDat: return "movielens_dat";
    case Format::kMovieLens100k: return "movielens_100k";
    case Format::kCsv: return "csv";
    case Format::kTsv: return "tsv";
    case Format::kAdjacency: return "adjacency";
  }
  return "?";
}

Format detect_format(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string name = p.filename().string();
  const std::string ext = p.extension().string();
  if (name == "ratings.csv") return Format::kMovieLensCsv;
  if (name == "ratings.dat") return Format::kMovieLensDat;
  if (name == "u.data" || (name.starts_with("u") && (ext == ".base" || ext == ".test"))) return Format::kMovieLens100k;
  if (ext == ".txt") return Format::kAdjacency;
  if (ext == ".tsv") return Format::kTsv;
  if (ext == ".csv") return Format::kCsv;
  RF_THROW(ErrorKind::kConfig, "cannot tell the format of '", path,
           "' from its name; set data.format (movielens_csv, movielens_dat, movielens_100k, csv, tsv, adjacency)");
}

namespace {

// The first line holds MovieLens' ratings.csv columns, in any order.
bool has_movielens_header(std::string_view bytes) {
  bytes = without_utf8_bom(bytes);
  std::string_view line = bytes.substr(0, std::min(bytes.find('\n'), bytes.size()));
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::vector<std::string_view> names;
  for (std::size_t begin = 0;;) {
    const std::size_t comma = line.find(',', begin);
    names.push_back(line.substr(begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  std::sort(names.begin(), names.end());
  return names == std::vector<std::string_view>{"movieId", "rating", "timestamp", "userId"};
}

Format resolve_format(const std::string& name, std::string_view bytes, const ReadOptions& options) {
  if (options.format != Format::kAuto) return options.format;
  const Format by_name = detect_format(name);
  // A renamed MovieLens download (ml25m_ratings.csv) is still MovieLens, unless
  // the user mapped columns of their own.
  const ReadOptions defaults;
  const bool own_mapping = options.user_column != defaults.user_column || options.item_column != defaults.item_column ||
                           options.rating_column || options.timestamp_column;
  if (by_name == Format::kCsv && !own_mapping && has_movielens_header(bytes)) return Format::kMovieLensCsv;
  return by_name;
}

}  // namespace

RawInteractions parse_interactions(std::string_view bytes, const std::string& name, const ReadOptions& options) {
  const Format format = resolve_format(name, bytes, options);
  if (format == Format::kAdjacency) return parse_adjacency(bytes, name, options);
  return parse_delimited(bytes, name, format, options);
}

RawInteractions read_raw_interactions(const std::string& path, const ReadOptions& options) {
  if (options.format == Format::kAuto) detect_format(path);  // an unknown kind of file is named before it is opened
  const MappedFile file(path);
  return parse_interactions(file.bytes(), path, options);
}

void check_skipped_bad_lines(const ReadReport& report, const std::string& path, const ReadOptions& options) {
  if (report.bad_lines == 0) return;
  std::string examples;
  for (const std::string& e : report.bad_examples) examples += "\n  " + e;
  RF_CHECK_KIND(ErrorKind::kData, report.bad_lines <= options.max_bad_lines, path, ": ", report.bad_lines,
                " bad lines, more than max_bad_lines (", options.max_bad_lines, "); the first:", examples);
  log::warn("{}: skipped {} bad lines (on_bad_line: skip); the first:{}", path, report.bad_lines, examples);
}

std::string block_tree_sha256_of(std::string_view bytes) {
  constexpr std::size_t kBlock = 64u << 20;
  const std::size_t blocks = std::max<std::size_t>(1, (bytes.size() + kBlock - 1) / kBlock);
  std::vector<Sha256Digest> digests(blocks);
#pragma omp parallel for schedule(dynamic)
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t begin = std::min(bytes.size(), b * kBlock);
    digests[b] = Sha256::of(bytes.data() + begin, std::min(kBlock, bytes.size() - begin));
  }
  Sha256 tree;
  for (const Sha256Digest& d : digests) tree.update(d.data(), d.size());
  return Sha256::hex(tree.finish());
}

namespace {

IdMap map_integer_ids(const std::vector<const RawIds*>& columns, std::vector<std::vector<std::int32_t>*>& out) {
  std::int64_t lo = INT64_MAX, hi = -1;
  std::size_t total = 0;
  for (const RawIds* c : columns) {
    total += c->integers.size();
    const auto& v = c->integers;
#pragma omp parallel for schedule(static) reduction(min : lo) reduction(max : hi)
    for (std::size_t i = 0; i < v.size(); ++i) {
      lo = std::min(lo, v[i]);
      hi = std::max(hi, v[i]);
    }
  }
  if (total == 0) return IdMap::integers({});
  std::vector<std::int64_t> sorted;
  const std::uint64_t range = static_cast<std::uint64_t>(hi - lo) + 1;
  if (range <= 4 * total + (1u << 20)) {
    // Dense enough for a lookup table indexed by (id - lo).
    std::vector<std::int32_t> table(range, 0);
    for (const RawIds* c : columns) {
      const auto& v = c->integers;
      // Every thread writes the same value 1; relaxed atomic stores keep that race-free.
#pragma omp parallel for schedule(static)
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::atomic_ref<std::int32_t>(table[static_cast<std::size_t>(v[i] - lo)]).store(1, std::memory_order_relaxed);
      }
    }
    std::int32_t next = 0;
    for (std::uint64_t i = 0; i < range; ++i) {
      if (table[i]) {
        sorted.push_back(lo + static_cast<std::int64_t>(i));
        table[i] = next++;
      }
    }
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const auto& src = columns[k]->integers;
      auto& dst = *out[k];
      dst.resize(src.size());
#pragma omp parallel for schedule(static)
      for (std::size_t i = 0; i < src.size(); ++i) dst[i] = table[static_cast<std::size_t>(src[i] - lo)];
    }
  } else {
    for (const RawIds* c : columns) sorted.insert(sorted.end(), c->integers.begin(), c->integers.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const auto& src = columns[k]->integers;
      auto& dst = *out[k];
      dst.resize(src.size());
#pragma omp parallel for schedule(static)
      for (std::size_t i = 0; i < src.size(); ++i) {
        dst[i] = static_cast<std::int32_t>(std::lower_bound(sorted.begin(), sorted.end(), src[i]) - sorted.begin());
      }
    }
  }
  RF_CHECK_KIND(ErrorKind::kData, sorted.size() < static_cast<std::size_t>(INT32_MAX), "more than 2^31 distinct ids");
  return IdMap::integers(std::move(sorted));
}

IdMap map_string_ids(const std::vector<const RawIds*>& columns, std::vector<std::vector<std::int32_t>*>& out) {
  std::vector<std::string> sorted;
  for (const RawIds* c : columns) sorted.insert(sorted.end(), c->strings.begin(), c->strings.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::unordered_map<std::string_view, std::int32_t> index;
  index.reserve(sorted.size());
  for (std::size_t i = 0; i < sorted.size(); ++i) index.emplace(sorted[i], static_cast<std::int32_t>(i));
  for (std::size_t k = 0; k < columns.size(); ++k) {
    const auto& src = columns[k]->strings;
    auto& dst = *out[k];
    dst.resize(src.size());
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < src.size(); ++i) dst[i] = index.at(src[i]);
  }
  return IdMap::strings(std::move(sorted));
}

}  // namespace

IdMap map_ids(const std::vector<const RawIds*>& columns, std::vector<std::vector<std::int32_t>*> dense_out) {
  RF_ASSERT(columns.size() == dense_out.size());
  bool any_strings = false, any_integers = false;
  for (const RawIds* c : columns) {
    any_strings |= !c->strings.empty();
    any_integers |= !c->integers.empty();
  }
  RF_CHECK_KIND(ErrorKind::kData, !(any_strings && any_integers), "cannot mix integer and string ids in one id space");
  return any_strings ? map_string_ids(columns, dense_out) : map_integer_ids(columns, dense_out);
}

}  // namespace recforge::data
