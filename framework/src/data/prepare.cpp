// The `data:` schema and the preparation pipeline (see prepare.hpp).
#include "recforge/data/prepare.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "recforge/core/error.hpp"
#include "recforge/core/sha256.hpp"
#include "recforge/data/generator.hpp"
#include "recforge/data/item_features.hpp"
#include "recforge/log/logging.hpp"

namespace recforge::data {

Schema data_schema() {
  Schema columns("column mapping for format csv/tsv: names with a header, 0-based indexes without");
  columns.add_string("user", "user", "user id column")
      .add_string("item", "item", "item id column")
      .add_optional_string("rating", "rating column (none: implicit data without ratings)")
      .add_optional_string("timestamp", "timestamp column (none: no time order)");

  Schema synthetic("synthetic data generated in memory (format: synthetic)");
  synthetic.add_string("preset", "ml1m", "shape of the data", generator_preset_names())
      .add_optional_int("seed", "generator seed (none: run.seed)", 0);

  Schema split("how to hold out validation and test interactions");
  split.add_string("method", "random", "split method",
                   {"none", "random", "global_temporal", "user_temporal", "leave_one_out", "given"})
      .add_float("test_ratio", 0.2, "share of interactions (random, temporal) held out for test", 0.0, 0.99)
      .add_float("valid_ratio", 0.0, "share held out for validation", 0.0, 0.99)
      .add_bool("validation_item", false, "leave_one_out: also hold out the second-latest item for validation")
      .add_int("min_history", 0, "leave_one_out: users with fewer interactions stay in train (0: 2, or 3 with "
                                 "validation_item; less is an error)", 0);

  Schema item_features("side features of the items (MovieLens genres, or any tags), used by models that take them "
                       "(two_tower)");
  item_features
      .add_optional_string("path", "movies.csv (ml-latest, ml-20m, ml-25m), movies.dat (ml-1m, ml-10m), u.item "
                                   "(ml-100k), or a delimited file with a header (format csv); ${VAR} is expanded "
                                   "(none: no item features)")
      .add_string("format", "auto", "file format (auto: from the file name; csv: any delimited file with a header, "
                                    "an item may take several lines)",
                  {"auto", "movies_csv", "movies_dat", "u_item", "csv"})
      .add_string("item_column", "item", "csv: header name of the item id column (ids as in data.path)")
      .add_string("features_column", "features", "csv: header name of the column listing the item's features")
      .add_string("delimiter", ",", "csv: field delimiter (one character; \\t for a tab)")
      .add_string("separator", "|", "csv: separator between features in one field");

  Schema s("where the interactions come from and how they are prepared");
  s.add_string("format", "auto", "input format (auto: from the file name; any .csv with MovieLens' header "
               "userId,movieId,rating,timestamp and no data.columns is read as movielens_csv)",
               {"auto", "movielens_csv", "movielens_dat", "movielens_100k", "csv", "tsv", "adjacency", "synthetic"})
      .add_optional_string("path", "ratings file, or the training file of a pre-split dataset; ${VAR} is expanded")
      .add_optional_string("test_path", "test file of a pre-split dataset (adjacency train/test); needs split.method: given")
      .add_section("synthetic", synthetic, "synthetic data options")
      .add_section("columns", columns, "column mapping (csv/tsv)")
      .add_bool("header", true, "csv/tsv: the first line names the columns")
      .add_string("delimiter", ",", "csv: field delimiter (one character)")
      .add_string("id_type", "int", "original ids: non-negative integers or arbitrary strings", {"int", "string"})
      .add_optional_float("rating_min", "smallest valid rating (MovieLens formats: their published range)")
      .add_optional_float("rating_max", "largest valid rating")
      .add_optional_float("rating_step", "ratings must be multiples of this (MovieLens csv: 0.5)", 0.0)
      .add_string("on_bad_line", "error", "malformed lines: stop with file:line:column, or skip and count",
                  {"error", "skip"})
      .add_int("max_bad_lines", 0, "on_bad_line: skip fails when more lines than this are bad", 0)
      .add_int("max_line_bytes", 1 << 20, "longest accepted line", 16, 1LL << 30)
      .add_optional_float("implicit_threshold", "keep only interactions with rating >= this (implicit feedback)")
      .add_string("dedup", "last", "repeated (user, item) pairs", {"keep_all", "first", "last", "max_rating", "error"})
      .add_int("min_user_interactions", 0, "k-core: drop users with fewer interactions (repeated until stable)", 0)
      .add_int("min_item_interactions", 0, "k-core: drop items with fewer interactions", 0)
      .add_section("split", split, "train/validation/test split")
      .add_section("item_features", item_features, "item side features")
      .add_bool("drop_cold", true, "drop held-out interactions whose user or item has no training interaction")
      .add_bool("cache", true, "cache the prepared dataset (HDF5) and reuse it")
      .add_string("cache_dir", "", "cache directory (empty: $RECFORGE_CACHE_DIR, else $XDG_CACHE_HOME/recforge/datasets, else ~/.cache/recforge/datasets, else .cache/recforge/datasets here)")
      .add_int("threads", 0, "parsing threads (0: OpenMP default)", 0, 1024);
  return s;
}

std::string expand_path(const std::string& text, const std::string& key) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = text.find("${", pos);
    if (start == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    const std::size_t end = text.find('}', start);
    RF_CHECK_KIND(ErrorKind::kConfig, end != std::string::npos, key, ": unterminated ${ in '", text, "'");
    out += text.substr(pos, start - pos);
    const std::string name = text.substr(start + 2, end - start - 2);
    const char* value = std::getenv(name.c_str());
    RF_CHECK_KIND(ErrorKind::kConfig, value != nullptr && *value != '\0', key, ": environment variable ", name,
                  " (used in '", text, "') is not set");
    out += value;
    pos = end + 1;
  }
  return out;
}

namespace {

// Logs the time of each preparation stage at debug level.
class StageTimer {
 public:
  void stage(const char* name) {
    const auto now = std::chrono::steady_clock::now();
    log::debug("data: {} {:.3f} s", name, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// A section's `delimiter`: one character, or the two characters \t for a tab.
char delimiter_of(const ConfigNode& section) {
  const std::string delimiter = section.get_string("delimiter");
  RF_CHECK_KIND(ErrorKind::kConfig, delimiter.size() == 1 || delimiter == "\\t", section["delimiter"].where(),
                ": expected one character, got '", delimiter, "'");
  return delimiter == "\\t" ? '\t' : delimiter[0];
}

ReadOptions read_options(const ConfigNode& data) {
  ReadOptions o;
  const std::string format = data.get_string("format");
  o.format = parse_format(format);
  o.delimiter = delimiter_of(data);
  o.header = data.get_bool("header");
  const ConfigNode& columns = data.section("columns");
  o.user_column = columns.get_string("user");
  o.item_column = columns.get_string("item");
  if (!columns["rating"].is_null()) o.rating_column = columns.get_string("rating");
  if (!columns["timestamp"].is_null()) o.timestamp_column = columns.get_string("timestamp");
  o.integer_ids = data.get_string("id_type") == "int";
  if (!data["rating_min"].is_null()) o.rating_min = data.get_double("rating_min");
  if (!data["rating_max"].is_null()) o.rating_max = data.get_double("rating_max");
  if (!data["rating_step"].is_null()) o.rating_step = data.get_double("rating_step");
  o.on_bad_line = data.get_string("on_bad_line") == "skip" ? BadLinePolicy::kSkip : BadLinePolicy::kError;
  o.max_bad_lines = data.get_int("max_bad_lines");
  o.max_line_bytes = data.get_int("max_line_bytes");
  o.threads = static_cast<int>(data.get_int("threads"));
  return o;
}

std::string cache_directory(const ConfigNode& data) {
  std::string dir = data.get_string("cache_dir");
  if (!dir.empty()) return expand_path(dir, "data.cache_dir");
  if (const char* env = std::getenv("RECFORGE_CACHE_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/recforge/datasets";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/recforge/datasets";
  return ".cache/recforge/datasets";
}

// The resolved data section without keys that do not change the result.
std::string options_text(const ConfigNode& data, std::uint64_t seed) {
  ConfigNode copy = data;
  auto& entries = copy.entries();
  // Item features are read on every run, not cached: they do not key the cache.
  std::erase_if(entries, [](const auto& e) {
    return e.first == "cache" || e.first == "cache_dir" || e.first == "threads" || e.first == "item_features";
  });
  return copy.to_yaml() + "seed: " + std::to_string(seed) + "\n";
}

// What keys an input file in the cache without reading all of it (hashing
// 650 MB would take longer than the reload's 1 s): path, size, modification
// time, and a SHA-256 of its first and last MiB (all of a smaller file). A
// file replaced by a same-size one with its mtime kept (cp -p, rsync -t, an
// archive extracted again) is another file; the same file staged to every
// node's disk is the same one (an inode or change time would differ).
std::string file_identity(const std::string& path) {
  struct stat st {};
  RF_CHECK_KIND(ErrorKind::kData, ::stat(path.c_str(), &st) == 0, "data file '", path, "' does not exist");
  std::error_code ec;
  const std::string canonical = std::filesystem::canonical(path, ec).string();
  constexpr std::int64_t kSample = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  RF_CHECK_KIND(ErrorKind::kData, in.good(), "data file '", path, "' cannot be read");
  std::string sample(static_cast<std::size_t>(std::min<std::int64_t>(st.st_size, 2 * kSample)), '\0');
  if (st.st_size <= 2 * kSample) {
    in.read(sample.data(), static_cast<std::streamsize>(sample.size()));
  } else {
    in.read(sample.data(), kSample);
    in.seekg(st.st_size - kSample);
    in.read(sample.data() + kSample, kSample);
  }
  RF_CHECK_KIND(ErrorKind::kData, in.good() || in.eof(), "data file '", path, "' cannot be read");
  return fmt::format("{}|{}|{}.{}|{}", canonical, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     Sha256::hex(Sha256::of(sample.data(), sample.size())));
}

InteractionTable to_table(RawInteractions& raw, std::vector<std::int32_t>&& users, std::vector<std::int32_t>&& items) {
  InteractionTable t;
  t.user = std::move(users);
  t.item = std::move(items);
  t.rating = std::move(raw.rating);
  t.timestamp = std::move(raw.timestamp);
  raw.users = RawIds{};
  raw.items = RawIds{};
  return t;
}

// Consistency rules between keys, checked before any file is touched.
void check_data_section(const ConfigNode& data) {
  const bool synthetic = data.get_string("format") == "synthetic";
  const bool pre_split = !data["test_path"].is_null();
  const std::string method = data.section("split").get_string("method");
  RF_CHECK_KIND(ErrorKind::kConfig, synthetic || !data["path"].is_null(), data.where(),
                ": data.path is required (or format: synthetic)");
  RF_CHECK_KIND(ErrorKind::kConfig, !pre_split || method == "given", data["test_path"].where(),
                ": a pre-split dataset (test_path) needs split.method: given");
  RF_CHECK_KIND(ErrorKind::kConfig, method != "given" || pre_split, data.section("split")["method"].where(),
                ": split.method given needs data.test_path");
  // The generator makes one table and the split divides it: a test file would be read past.
  RF_CHECK_KIND(ErrorKind::kConfig, !synthetic || !pre_split, data["test_path"].where(),
                ": a pre-split dataset's test file, but format: synthetic generates one table that data.split "
                "divides (drop test_path, and pick a split.method other than given)");
  RF_CHECK_KIND(ErrorKind::kConfig,
                !pre_split || (data.get_int("min_user_interactions") <= 1 && data.get_int("min_item_interactions") <= 1),
                data.where(), ": k-core filtering (min_user_interactions, min_item_interactions) would change a "
                              "pre-split dataset's published split; set both to 0");
  const ConfigNode& split = data.section("split");
  const bool by_ratio = method == "random" || method == "global_temporal" || method == "user_temporal";
  const double test_ratio = split.get_double("test_ratio"), valid_ratio = split.get_double("valid_ratio");
  RF_CHECK_KIND(ErrorKind::kConfig, !by_ratio || test_ratio + valid_ratio < 1, split["valid_ratio"].where(),
                ": test_ratio ", test_ratio, " + valid_ratio ", valid_ratio, " leave nothing to train on; their sum must be below 1");
  // A user held out from must keep a training row besides the held-out ones.
  const std::int64_t min_history = split.get_int("min_history");
  const std::int64_t held_out = split.get_bool("validation_item") ? 2 : 1;
  RF_CHECK_KIND(ErrorKind::kConfig, method != "leave_one_out" || min_history == 0 || min_history > held_out,
                split["min_history"].where(),
                ": data.split.min_history ", min_history, " would hold out all of a user's ", min_history,
                " interaction(s); it must be at least ", held_out + 1, held_out == 2 ? " with validation_item" : "",
                " (or 0 for that)");
}

// Filters and splits can leave nothing to train on (or to test): a model
// would then "train" on zero rows and report zero metrics with exit 0. Says
// which step took the rows away.
void check_something_left(const ConfigNode& data, const PrepareReport& report, const Dataset& dataset) {
  std::int64_t read = 0;
  for (const ReadReport& r : report.reads) read += r.rows;
  const std::string method = data.section("split").get_string("method");
  const bool test_empty = dataset.test.empty() && method != "none";
  if (!dataset.train.empty() && !test_empty) return;
  const std::string steps = fmt::format(
      "{} rows read; removed: {} below data.implicit_threshold, {} duplicates, {} by k-core "
      "(data.min_user_interactions {}, data.min_item_interactions {}), {} cold held-out (data.drop_cold); "
      "split.method {} left {} for test, {} for validation",
      read, report.below_threshold, report.duplicates_removed, report.kcore.rows_removed,
      data.get_int("min_user_interactions"), data.get_int("min_item_interactions"), report.cold_heldout_dropped, method,
      dataset.test.size(), dataset.valid.size());
  RF_CHECK_KIND(ErrorKind::kData, !dataset.train.empty(), data.where(), ": no training interactions are left (", steps, ")");
  if (test_empty) {
    log::warn("data: the test split is empty ({}); evaluation will have no users", steps);
  }
}

Dataset build(const ConfigNode& data, std::uint64_t seed, PrepareReport& report) {
  const std::string format = data.get_string("format");
  const bool synthetic = format == "synthetic";
  const bool pre_split = !data["test_path"].is_null();
  const std::string method = data.section("split").get_string("method");

  StageTimer timer;
  std::vector<RawInteractions> raws;
  Dataset dataset;
  if (synthetic) {
    const ConfigNode& syn = data.section("synthetic");
    const auto preset = generator_preset(syn.get_string("preset"));
    const std::uint64_t gen_seed = syn["seed"].is_null() ? seed : static_cast<std::uint64_t>(syn.get_int("seed"));
    raws.push_back(generate_interactions(preset, gen_seed, static_cast<int>(data.get_int("threads"))));
    raws.back().report.content_sha256 =
        fmt::format("synthetic v{}:{}:{}", kGeneratorVersion, preset.name, gen_seed);
    dataset.name = "synthetic/" + preset.name;
  } else {
    const ReadOptions options = read_options(data);
    const std::string path = expand_path(data.get_string("path"), "data.path");
    raws.push_back(read_raw_interactions(path, options));
    dataset.name = std::filesystem::path(path).parent_path().filename().string() + "/" +
                   std::filesystem::path(path).filename().string();
    if (pre_split) raws.push_back(read_raw_interactions(expand_path(data.get_string("test_path"), "data.test_path"), options));
  }
  for (const RawInteractions& raw : raws) report.reads.push_back(raw.report);
  timer.stage("read");

  // Shared dense ids across the files.
  std::vector<const RawIds*> user_columns, item_columns;
  std::vector<std::vector<std::int32_t>> dense_users(raws.size()), dense_items(raws.size());
  std::vector<std::vector<std::int32_t>*> user_out, item_out;
  for (std::size_t k = 0; k < raws.size(); ++k) {
    user_columns.push_back(&raws[k].users);
    item_columns.push_back(&raws[k].items);
    user_out.push_back(&dense_users[k]);
    item_out.push_back(&dense_items[k]);
  }
  dataset.users = map_ids(user_columns, user_out);
  dataset.items = map_ids(item_columns, item_out);
  std::vector<InteractionTable> tables;
  for (std::size_t k = 0; k < raws.size(); ++k) {
    tables.push_back(to_table(raws[k], std::move(dense_users[k]), std::move(dense_items[k])));
  }
  timer.stage("map ids");

  const Dedup dedup = parse_dedup(data.get_string("dedup"));
  for (InteractionTable& t : tables) {
    if (!data["implicit_threshold"].is_null()) report.below_threshold += apply_rating_threshold(t, data.get_double("implicit_threshold"));
    sort_by_user_time(t, dataset.num_users());
    timer.stage("order by user, time");
    report.duplicates_removed += deduplicate(t, dataset.num_users(), dataset.num_items(), dedup, dataset.users, dataset.items);
    timer.stage("dedup");
  }

  if (pre_split) {
    dataset.train = std::move(tables[0]);
    dataset.test = std::move(tables[1]);
    report.split.leaked_rows_removed = remove_leaked_pairs(dataset.train, dataset.valid, dataset.test, dataset.num_users());
  } else {
    InteractionTable all = std::move(tables[0]);
    report.kcore = kcore_filter(all, dataset.users, dataset.items, data.get_int("min_user_interactions"),
                                data.get_int("min_item_interactions"));
    const ConfigNode& split = data.section("split");
    SplitOptions options;
    options.method = parse_split_method(method);
    options.test_ratio = split.get_double("test_ratio");
    options.valid_ratio = split.get_double("valid_ratio");
    options.validation_item = split.get_bool("validation_item");
    options.min_history = split.get_int("min_history");
    options.seed = seed;
    const std::int32_t num_users = dataset.num_users();
    report.split = split_interactions(std::move(all), num_users, options, dataset);
  }
  timer.stage("k-core, split");
  if (data.get_bool("drop_cold")) {
    report.cold_heldout_dropped = drop_cold_heldout(dataset);
    drop_unused_ids({&dataset.train, &dataset.valid, &dataset.test}, dataset.users, dataset.items);
  }
  check_something_left(data, report, dataset);

  Sha256 fingerprint;
  fingerprint.update(options_text(data, seed));
  for (const ReadReport& r : report.reads) fingerprint.update(r.content_sha256);
  dataset.fingerprint = Sha256::hex(fingerprint.finish());
  return dataset;
}

// data.item_features, if set, aligned with the dataset's items.
void attach_item_features(const ConfigNode& data, Dataset& dataset) {
  const ConfigNode& section = data.section("item_features");
  if (section["path"].is_null()) return;
  const std::string path = expand_path(section.get_string("path"), "data.item_features.path");
  const ItemFeatureColumns columns{.item = section.get_string("item_column"),
                                   .features = section.get_string("features_column"),
                                   .delimiter = delimiter_of(section),
                                   .separator = section.get_string("separator")};
  auto features = std::make_shared<ItemFeatures>(
      read_item_features(path, parse_item_feature_format(section.get_string("format")), dataset.items, columns));
  log::info("data: item features {}: {} features over {} of {} items ({} items of the file not in the data)", path,
            features->num_features(), dataset.num_items() - features->items_without, dataset.num_items(),
            features->unknown_items);
  RF_CHECK_KIND(ErrorKind::kData, features->items_without < dataset.num_items(), path,
                ": no item of the dataset has a feature (do the ids match data.path's?)");
  // The features are part of what a model trains on: the fingerprint covers
  // them (read every run, they stay out of the cache key), so that ranks
  // reading different files disagree and a checkpoint refuses other features.
  Sha256 fingerprint;
  fingerprint.update(dataset.fingerprint).update("\nitem features\n");
  for (const std::string& name : features->names) fingerprint.update(name).update("\n");
  const Csr& items = features->items;
  fingerprint.update(items.offsets.data(), items.offsets.size() * sizeof(items.offsets[0]))
      .update(items.col.data(), items.col.size() * sizeof(items.col[0]));
  dataset.fingerprint = Sha256::hex(fingerprint.finish());
  dataset.item_features = std::move(features);
}

// The interactions: from the cache when it holds them, else built and cached.
Dataset prepare_interactions(const ConfigNode& data, std::uint64_t seed, PrepareReport& report) {
  const auto start = std::chrono::steady_clock::now();
  const std::string options = options_text(data, seed);
  const bool use_cache = data.get_bool("cache");

  std::string cache_path;
  if (use_cache) {
    Sha256 key;
    key.update("recforge-dataset-cache v" + std::to_string(kDatasetCacheVersion) + "\n").update(options);
    if (data.get_string("format") == "synthetic") {
      key.update(fmt::format("synthetic v{}", kGeneratorVersion));
    } else {
      key.update(file_identity(expand_path(data.get_string("path"), "data.path")));
      if (!data["test_path"].is_null()) key.update(file_identity(expand_path(data.get_string("test_path"), "data.test_path")));
    }
    cache_path = cache_directory(data) + "/" + Sha256::hex(key.finish()).substr(0, 24) + ".h5";
    report.cache_path = cache_path;
    // An unsearchable cache directory (another user's, mode 0700) is a miss, not an error.
    std::error_code ec;
    if (std::filesystem::exists(cache_path, ec)) {
      try {
        Dataset dataset = load_dataset(cache_path);
        report.from_cache = true;
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log::info("data: loaded {} from cache {} in {:.2f} s", dataset.name, cache_path, report.seconds);
        return dataset;
      } catch (const Error& e) {
        log::warn("data: ignoring unreadable cache {} ({}); preparing again", cache_path, e.message());
      }
    }
  }

  Dataset dataset = build(data, seed, report);
  if (use_cache) {
    try {
      StageTimer timer;
      save_dataset(dataset, cache_path, options);
      timer.stage("write cache");
    } catch (const Error& e) {
      report.cache_error = e.message();
      log::warn("data: could not write the cache {}: {}; the data was prepared and is used uncached",
                cache_path, e.message());
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const ReadReport& r : report.reads) {
    log::info("data: read {} ({}): {} lines, {} rows{}", r.path, format_name(r.format), r.lines, r.rows,
              r.bad_lines ? fmt::format(", {} bad lines skipped", r.bad_lines) : std::string());
  }
  if (report.below_threshold || report.duplicates_removed || report.kcore.rows_removed || report.cold_heldout_dropped ||
      report.split.leaked_rows_removed) {
    log::info("data: removed {} below threshold, {} duplicates, {} by k-core ({} rounds), {} cold held-out, {} "
              "leaked pairs",
              report.below_threshold, report.duplicates_removed, report.kcore.rows_removed, report.kcore.rounds,
              report.cold_heldout_dropped, report.split.leaked_rows_removed);
  }
  log::info("data: {} prepared in {:.2f} s", describe_dataset(dataset), report.seconds);
  return dataset;
}

}  // namespace

Dataset prepare_dataset(const ConfigNode& data, std::uint64_t seed, PrepareReport* report_out) {
  PrepareReport local;
  check_data_section(data);
  Dataset dataset = prepare_interactions(data, seed, report_out ? *report_out : local);
  attach_item_features(data, dataset);
  return dataset;
}

std::string describe_dataset(const Dataset& d) {
  return fmt::format("{}: {} users, {} items, {} interactions (train {}, valid {}, test {})", d.name, d.num_users(),
                     d.num_items(), d.num_interactions(), d.train.size(), d.valid.size(), d.test.size());
}

}  // namespace recforge::data
