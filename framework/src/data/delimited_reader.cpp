// Delimited ratings files (MovieLens csv/dat/u.data and generic csv/tsv).
//
// Note [Parallel strict parsing]
// The file is memory-mapped and cut into chunks at line boundaries (a chunk
// starts right after a '\n', so a boundary never splits a line or a CRLF).
// Pass 1 counts the lines of every chunk; the prefix sums give each chunk its
// first line number and its first output row, so pass 2 parses the chunks on
// all threads straight into the final columns. Every chunk stops at its first
// error; the error with the smallest line number is reported, so the message
// does not depend on the thread count. Under on_bad_line = skip, bad rows are
// flagged and compacted away afterwards, keeping file order.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

#include "field_parsing.hpp"
#include "reader_internal.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/utf8.hpp"

namespace recforge::data {
namespace {

constexpr int kMaxFields = 64;

struct Layout {
  std::string_view delimiter;
  bool quotes = false;
  int fields = -1;  // expected field count; -1: taken from the first data line
  int user = 0, item = 1, rating = -1, timestamp = -1;
  std::optional<double> rating_min, rating_max, rating_step;
  bool integer_ids = true;
  bool generic = false;  // hints differ for generic formats
};

struct LineError {
  std::int64_t line = 0;  // 1-based
  int column = 0;         // 1-based byte column
  std::string reason;
  std::string text;       // the line, truncated
};

std::string quote_line(std::string_view line) {
  constexpr std::size_t kMax = 160;
  std::string out(line.substr(0, kMax));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
  if (line.size() > kMax) out += "...";
  return out;
}

std::string format_error(const std::string& path, const LineError& e) {
  return path + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.reason +
         (e.text.empty() ? std::string() : "\n  line: " + e.text);
}

// Columns being filled, sized to the number of lines.
struct Output {
  std::vector<std::int64_t> user_int, item_int;
  std::vector<std::string> user_str, item_str;
  std::vector<float> rating;
  std::vector<std::int64_t> timestamp;
  std::vector<std::uint8_t> ok;
};

struct ChunkResult {
  std::int64_t bad = 0, blank = 0;
  std::vector<LineError> examples;
  std::optional<LineError> error;  // first error (policy kError)
};

// Splits a line into fields. Returns the count or -1 with `reason` set.
int split(std::string_view line, const Layout& layout, std::array<std::string_view, kMaxFields>& fields,
          std::array<int, kMaxFields>& columns, std::array<std::string, kMaxFields>& unescaped, std::string& reason,
          int& error_column) {
  int n = 0;
  std::size_t pos = 0;
  if (!layout.quotes && layout.delimiter.size() == 1) {
    // Fast path (MovieLens files): one-byte delimiter, no quoting.
    const char d = layout.delimiter[0];
    const char* p = line.data();
    const char* end = p + line.size();
    while (true) {
      if (n == kMaxFields) {
        reason = "more than " + std::to_string(kMaxFields) + " fields";
        error_column = static_cast<int>(p - line.data()) + 1;
        return -1;
      }
      const char* next = static_cast<const char*>(std::memchr(p, d, static_cast<std::size_t>(end - p)));
      columns[static_cast<std::size_t>(n)] = static_cast<int>(p - line.data()) + 1;
      if (next == nullptr) {
        fields[static_cast<std::size_t>(n++)] = std::string_view(p, static_cast<std::size_t>(end - p));
        return n;
      }
      fields[static_cast<std::size_t>(n++)] = std::string_view(p, static_cast<std::size_t>(next - p));
      p = next + 1;
    }
  }
  while (true) {
    if (n == kMaxFields) {
      reason = "more than " + std::to_string(kMaxFields) + " fields";
      error_column = static_cast<int>(pos) + 1;
      return -1;
    }
    columns[static_cast<std::size_t>(n)] = static_cast<int>(pos) + 1;
    if (layout.quotes && pos < line.size() && line[pos] == '"') {
      std::string& value = unescaped[static_cast<std::size_t>(n)];
      const std::size_t i = detail::unquote_field(line, pos, value);
      if (i == std::string_view::npos) {
        reason = "unterminated quoted field";
        error_column = static_cast<int>(pos) + 1;
        return -1;
      }
      if (i < line.size() && line.compare(i, layout.delimiter.size(), layout.delimiter) != 0) {
        reason = "unexpected text after a closing quote";
        error_column = static_cast<int>(i) + 1;
        return -1;
      }
      fields[static_cast<std::size_t>(n++)] = value;
      if (i >= line.size()) return n;
      pos = i + layout.delimiter.size();
      continue;
    }
    const std::size_t next = line.find(layout.delimiter, pos);
    if (next == std::string_view::npos) {
      fields[static_cast<std::size_t>(n++)] = line.substr(pos);
      return n;
    }
    fields[static_cast<std::size_t>(n++)] = line.substr(pos, next - pos);
    pos = next + layout.delimiter.size();
  }
}

std::string delimiter_name(std::string_view d) {
  if (d == "\t") return "a tab";
  return "'" + std::string(d) + "'";
}

// A hint when a line looks as if it used another delimiter.
std::string delimiter_hint(std::string_view line, const Layout& layout) {
  for (std::string_view candidate : {"::", "\t", ";", "|", ",", " "}) {
    if (candidate == layout.delimiter) continue;
    if (line.find(candidate) != std::string_view::npos) {
      return " (the line contains " + delimiter_name(candidate) + ": is the file in another format or delimiter?)";
    }
  }
  return {};
}

std::string id_problem(const char* what, std::string_view text, detail::FieldStatus status, const Layout& layout) {
  switch (status) {
    case detail::FieldStatus::kEmpty: return std::string("empty ") + what;
    case detail::FieldStatus::kNegative: return std::string(what) + " '" + std::string(text) + "' is negative";
    case detail::FieldStatus::kOverflow:
      return std::string(what) + " '" + std::string(text) + "' does not fit in a 64-bit integer";
    default:
      return std::string(what) + " '" + quote_line(text) + "' is not a non-negative integer" +
             (layout.generic ? " (set data.id_type: string for non-numeric ids)" : "");
  }
}

// Parses one data line into row `row`. Returns false with `error` set on a bad line.
bool parse_line(std::string_view line, std::int64_t row, const Layout& layout, Output& out, LineError& error,
                std::array<std::string_view, kMaxFields>& fields, std::array<int, kMaxFields>& columns,
                std::array<std::string, kMaxFields>& unescaped) {
  int n = split(line, layout, fields, columns, unescaped, error.reason, error.column);
  if (n < 0) return false;
  if (n != layout.fields) {
    error.column = 1;
    error.reason = "expected " + std::to_string(layout.fields) + " fields separated by " +
                   delimiter_name(layout.delimiter) + ", found " + std::to_string(n) + delimiter_hint(line, layout);
    return false;
  }
  const auto field = [&](int index) { return fields[static_cast<std::size_t>(index)]; };
  const auto column = [&](int index) { return columns[static_cast<std::size_t>(index)]; };
  const auto fail = [&](int index, std::string reason) {
    error.column = column(index);
    error.reason = std::move(reason);
    return false;
  };
  const std::size_t r = static_cast<std::size_t>(row);
  for (const auto& [index, what] : {std::pair{layout.user, "user id"}, std::pair{layout.item, "item id"}}) {
    const std::string_view text = field(index);
    if (layout.integer_ids) {
      std::int64_t id = 0;
      const auto status = detail::parse_id(text, id);
      if (status != detail::FieldStatus::kOk) return fail(index, id_problem(what, text, status, layout));
      (index == layout.user ? out.user_int : out.item_int)[r] = id;
    } else {
      if (text.empty()) return fail(index, std::string("empty ") + what);
      if (text.find('\0') != std::string_view::npos) return fail(index, std::string("NUL byte in ") + what);
      if (!detail::valid_utf8(text)) return fail(index, std::string(what) + " is not valid UTF-8");
      (index == layout.user ? out.user_str : out.item_str)[r] = std::string(text);
    }
  }
  if (layout.rating >= 0) {
    const std::string_view text = field(layout.rating);
    double value = 0;
    const auto status = detail::parse_number(text, value);
    if (status == detail::FieldStatus::kEmpty) return fail(layout.rating, "empty rating");
    if (status != detail::FieldStatus::kOk) {
      return fail(layout.rating, "rating '" + quote_line(text) + "' is not a finite number");
    }
    // Ratings are kept as f32: a finite double beyond its range would become inf.
    if (std::fabs(value) > std::numeric_limits<float>::max()) {
      return fail(layout.rating, "rating '" + quote_line(text) + "' does not fit in a 32-bit float");
    }
    if ((layout.rating_min && value < *layout.rating_min) || (layout.rating_max && value > *layout.rating_max)) {
      return fail(layout.rating, "rating " + std::string(text) + " is outside [" +
                                     (layout.rating_min ? fmt::format("{}", *layout.rating_min) : "-inf") + ", " +
                                     (layout.rating_max ? fmt::format("{}", *layout.rating_max) : "inf") + "]");
    }
    if (layout.rating_step) {
      const double steps = value / *layout.rating_step;
      if (std::fabs(steps - std::round(steps)) > 1e-6) {
        return fail(layout.rating, "rating " + std::string(text) + " is not a multiple of " +
                                       fmt::format("{}", *layout.rating_step));
      }
    }
    out.rating[r] = static_cast<float>(value);
  }
  if (layout.timestamp >= 0) {
    const std::string_view text = field(layout.timestamp);
    std::int64_t value = 0;
    const auto status = detail::parse_timestamp(text, value);
    if (status == detail::FieldStatus::kEmpty) return fail(layout.timestamp, "empty timestamp");
    if (status == detail::FieldStatus::kNegative) return fail(layout.timestamp, "timestamp " + std::string(text) + " is negative");
    if (status == detail::FieldStatus::kOverflow) {
      return fail(layout.timestamp, "timestamp '" + std::string(text) + "' does not fit in a 64-bit integer");
    }
    if (status != detail::FieldStatus::kOk) {
      return fail(layout.timestamp, "timestamp '" + quote_line(text) + "' is not an integer");
    }
    out.timestamp[r] = value;
  }
  return true;
}

// Lines of `text`, without their '\n' and an optional trailing '\r'.
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char* nl = static_cast<const char*>(std::memchr(text.data() + pos, '\n', text.size() - pos));
    const std::size_t end = nl ? static_cast<std::size_t>(nl - text.data()) : text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line)) return;
    pos = end + 1;
  }
}

std::int64_t count_lines(std::string_view text) {
  if (text.empty()) return 0;
  std::int64_t n = std::count(text.begin(), text.end(), '\n');
  if (text.back() != '\n') ++n;
  return n;
}

// Chunk boundaries: each chunk ends right after a '\n' (or at the end).
std::vector<std::size_t> chunk_starts(std::string_view text, std::size_t chunks) {
  std::vector<std::size_t> starts = {0};
  for (std::size_t c = 1; c < chunks; ++c) {
    std::size_t at = text.size() * c / chunks;
    if (at <= starts.back()) continue;
    const char* nl = static_cast<const char*>(std::memchr(text.data() + at - 1, '\n', text.size() - at + 1));
    if (!nl) break;
    const std::size_t next = static_cast<std::size_t>(nl - text.data()) + 1;
    if (next >= text.size()) break;
    if (next > starts.back()) starts.push_back(next);
  }
  starts.push_back(text.size());
  return starts;
}

// The fields of the first line (a header, or the line that sets the field
// count); one that cannot be split is an error at its column.
std::vector<std::string> split_first_line(std::string_view line, const Layout& layout, const std::string& path) {
  std::array<std::string_view, kMaxFields> fields;
  std::array<int, kMaxFields> columns{};
  std::array<std::string, kMaxFields> unescaped;
  std::string reason;
  int error_column = 0;
  const int n = split(line, layout, fields, columns, unescaped, reason, error_column);
  RF_CHECK_KIND(ErrorKind::kData, n >= 0, path, ":1:", error_column, ": ", reason, "\n  line: ", quote_line(line));
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.emplace_back(fields[static_cast<std::size_t>(i)]);
  return names;
}

int find_column(const std::vector<std::string>& header, const std::string& name, const std::string& path,
                const char* key) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] != name) continue;
    for (std::size_t j = i + 1; j < header.size(); ++j) {
      RF_CHECK_KIND(ErrorKind::kData, header[j] != name, path, ":1: the header names column '", name, "' twice (",
                    i + 1, " and ", j + 1, "), so ", key, " cannot tell which");
    }
    return static_cast<int>(i);
  }
  std::string list;
  for (const std::string& h : header) list += (list.empty() ? "" : ", ") + h;
  RF_THROW(ErrorKind::kData, path, ":1: the header has no column '", name, "' (", key, "); its columns are: ", list);
}

int column_index(const std::string& text, const std::string& path, const char* key) {
  std::int64_t index = 0;
  RF_CHECK_KIND(ErrorKind::kData, detail::parse_id(text, index) == detail::FieldStatus::kOk && index < kMaxFields,
                path, ": without a header, ", key, " must be a 0-based column index, got '", text, "'");
  return static_cast<int>(index);
}

Layout make_layout(Format format, const ReadOptions& options) {
  Layout layout;
  layout.integer_ids = options.integer_ids;
  switch (format) {
    case Format::kMovieLensCsv:
      layout.delimiter = ",";
      layout.fields = 4;
      layout.rating_min = 0.5;
      layout.rating_max = 5.0;
      layout.rating_step = 0.5;
      break;
    case Format::kMovieLensDat:
      layout.delimiter = "::";
      layout.fields = 4;
      layout.user = 0, layout.item = 1, layout.rating = 2, layout.timestamp = 3;
      layout.rating_min = 0.5;  // ml-1m uses 1..5, ml-10m half stars 0.5..5
      layout.rating_max = 5.0;
      layout.rating_step = 0.5;
      break;
    case Format::kMovieLens100k:
      layout.delimiter = "\t";
      layout.fields = 4;
      layout.user = 0, layout.item = 1, layout.rating = 2, layout.timestamp = 3;
      layout.rating_min = 1.0;
      layout.rating_max = 5.0;
      layout.rating_step = 1.0;
      break;
    case Format::kCsv:
    case Format::kTsv:
      layout.generic = true;
      layout.quotes = true;
      layout.delimiter = format == Format::kTsv ? "\t" : std::string_view(&options.delimiter, 1);
      break;
    default:
      RF_ASSERT(false);
  }
  if (options.rating_min) layout.rating_min = options.rating_min;
  if (options.rating_max) layout.rating_max = options.rating_max;
  if (options.rating_step) layout.rating_step = options.rating_step;
  return layout;
}

template <class T>
void compact(std::vector<T>& values, const std::vector<std::uint8_t>& ok) {
  if (values.empty()) return;
  std::size_t out = 0;
  for (std::size_t i = 0; i < ok.size(); ++i)
    if (ok[i]) values[out++] = std::move(values[i]);
  values.resize(out);
  values.shrink_to_fit();
}

}  // namespace

RawInteractions parse_delimited(std::string_view bytes, const std::string& path, Format format,
                                const ReadOptions& options) {
  RF_CHECK_KIND(ErrorKind::kData, !bytes.empty(), "data file '", path, "' is empty");
  std::string_view text = without_utf8_bom(bytes);
  Layout layout = make_layout(format, options);

  RawInteractions raw;
  raw.report.path = path;
  raw.report.format = format;
  raw.report.content_sha256 = block_tree_sha256_of(bytes);

  // Header and column layout.
  std::int64_t first_line_number = 1;
  const bool has_header = format == Format::kMovieLensCsv || ((format == Format::kCsv || format == Format::kTsv) && options.header);
  if (has_header) {
    const char* nl = static_cast<const char*>(std::memchr(text.data(), '\n', text.size()));
    std::string_view header = text.substr(0, nl ? static_cast<std::size_t>(nl - text.data()) : text.size());
    if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
    const std::vector<std::string> names = split_first_line(header, layout, path);
    if (format == Format::kMovieLensCsv) {
      const std::vector<std::string> expected = {"userId", "movieId", "rating", "timestamp"};
      std::vector<std::string> sorted_names = names, sorted_expected = expected;
      std::sort(sorted_names.begin(), sorted_names.end());
      std::sort(sorted_expected.begin(), sorted_expected.end());
      RF_CHECK_KIND(ErrorKind::kData, sorted_names == sorted_expected, path,
                    ":1:1: expected the MovieLens header userId,movieId,rating,timestamp (in any order), got '",
                    quote_line(header), "' (for a headerless file use format: csv with header: false)");
      layout.user = find_column(names, "userId", path, "user");
      layout.item = find_column(names, "movieId", path, "item");
      layout.rating = find_column(names, "rating", path, "rating");
      layout.timestamp = find_column(names, "timestamp", path, "timestamp");
    } else {
      layout.user = find_column(names, options.user_column, path, "data.columns.user");
      layout.item = find_column(names, options.item_column, path, "data.columns.item");
      if (options.rating_column) layout.rating = find_column(names, *options.rating_column, path, "data.columns.rating");
      if (options.timestamp_column) {
        layout.timestamp = find_column(names, *options.timestamp_column, path, "data.columns.timestamp");
      }
    }
    layout.fields = static_cast<int>(names.size());
    text.remove_prefix(nl ? static_cast<std::size_t>(nl - text.data()) + 1 : text.size());
    first_line_number = 2;
  } else if (format == Format::kCsv || format == Format::kTsv) {
    layout.user = column_index(options.user_column, path, "data.columns.user");
    layout.item = column_index(options.item_column, path, "data.columns.item");
    if (options.rating_column) layout.rating = column_index(*options.rating_column, path, "data.columns.rating");
    if (options.timestamp_column) layout.timestamp = column_index(*options.timestamp_column, path, "data.columns.timestamp");
    // The field count comes from the first line; every other line must match it.
    const char* nl = static_cast<const char*>(std::memchr(text.data(), '\n', text.size()));
    std::string_view first = text.substr(0, nl ? static_cast<std::size_t>(nl - text.data()) : text.size());
    if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
    layout.fields = static_cast<int>(split_first_line(first, layout, path).size());
    const int needed = std::max({layout.user, layout.item, layout.rating, layout.timestamp}) + 1;
    RF_CHECK_KIND(ErrorKind::kData, layout.fields >= needed, path, ":1:1: the first line has ", layout.fields,
                  " fields separated by ", delimiter_name(layout.delimiter), " but the column mapping needs ", needed,
                  delimiter_hint(first, layout), "\n  line: ", quote_line(first));
  }

  // One column per role: the same column as user and item (a typo in
  // data.columns) would read a "dataset" of self-pairs without a word.
  if (format == Format::kCsv || format == Format::kTsv) {
    const std::pair<int, const char*> roles[] = {{layout.user, "user"}, {layout.item, "item"},
                                                 {layout.rating, "rating"}, {layout.timestamp, "timestamp"}};
    for (std::size_t a = 0; a < std::size(roles); ++a) {
      for (std::size_t b = a + 1; b < std::size(roles); ++b) {
        RF_CHECK_KIND(ErrorKind::kConfig, roles[a].first < 0 || roles[a].first != roles[b].first, path,
                      ": data.columns.", roles[a].second, " and data.columns.", roles[b].second,
                      " name the same column (", roles[a].first + 1, ")");
      }
    }
  }

  // Pass 1: chunks and their line counts.
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
  const std::size_t wanted_chunks =
      std::clamp<std::size_t>(text.size() / static_cast<std::size_t>(std::max<std::int64_t>(1, options.chunk_bytes)), 1,
                              std::max<std::size_t>(static_cast<std::size_t>(threads) * 8, text.size() >> 20));
  const std::vector<std::size_t> starts = chunk_starts(text, wanted_chunks);
  const std::size_t chunks = starts.size() - 1;
  std::vector<std::int64_t> lines_in(chunks);
#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (std::size_t c = 0; c < chunks; ++c) lines_in[c] = count_lines(text.substr(starts[c], starts[c + 1] - starts[c]));
  std::vector<std::int64_t> first_row(chunks + 1, 0);
  for (std::size_t c = 0; c < chunks; ++c) first_row[c + 1] = first_row[c] + lines_in[c];
  const std::int64_t total_lines = first_row[chunks];
  RF_CHECK_KIND(ErrorKind::kData, total_lines > 0, path, ": no data lines",
                has_header ? " after the header" : "");

  // Pass 2: parse straight into the columns.
  Output out;
  const auto n = static_cast<std::size_t>(total_lines);
  if (layout.integer_ids) {
    out.user_int.resize(n);
    out.item_int.resize(n);
  } else {
    out.user_str.resize(n);
    out.item_str.resize(n);
  }
  if (layout.rating >= 0) out.rating.resize(n);
  if (layout.timestamp >= 0) out.timestamp.resize(n);
  out.ok.assign(n, 1);
  std::vector<ChunkResult> results(chunks);
  const bool skip_bad = options.on_bad_line == BadLinePolicy::kSkip;
#pragma omp parallel num_threads(threads)
  {
    std::array<std::string_view, kMaxFields> fields;
    std::array<int, kMaxFields> columns{};
    std::array<std::string, kMaxFields> unescaped;
#pragma omp for schedule(dynamic)
    for (std::size_t c = 0; c < chunks; ++c) {
      ChunkResult& result = results[c];
      std::int64_t row = first_row[c];
      for_each_line(text.substr(starts[c], starts[c + 1] - starts[c]), [&](std::string_view line) {
        const std::int64_t this_row = row++;
        const std::int64_t line_number = first_line_number + this_row;
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
          out.ok[static_cast<std::size_t>(this_row)] = 0;
          ++result.blank;
          return true;
        }
        LineError error;
        if (static_cast<std::int64_t>(line.size()) > options.max_line_bytes) {
          error.column = 1;
          error.reason = "line is " + std::to_string(line.size()) + " bytes, longer than max_line_bytes (" +
                         std::to_string(options.max_line_bytes) + ")";
        } else if (parse_line(line, this_row, layout, out, error, fields, columns, unescaped)) {
          return true;
        } else if (const std::size_t nul = line.find('\0'); nul != std::string_view::npos) {
          // A NUL explains the failure better than the field it landed in (checked
          // only on failure: scanning every line for it costs a pass over the file).
          error.column = static_cast<int>(nul) + 1;
          error.reason = "NUL byte in line";
        }
        error.line = line_number;
        error.text = quote_line(line);
        out.ok[static_cast<std::size_t>(this_row)] = 0;
        if (!skip_bad) {
          result.error = std::move(error);
          return false;
        }
        ++result.bad;
        if (result.examples.size() < kMaxBadLineExamples) result.examples.push_back(std::move(error));
        return true;
      });
    }
  }

  for (const ChunkResult& result : results) {
    if (result.error) RF_THROW(ErrorKind::kData, format_error(path, *result.error));
  }
  for (const ChunkResult& result : results) {
    raw.report.bad_lines += result.bad;
    raw.report.blank_lines += result.blank;
    for (const LineError& e : result.examples) {
      if (raw.report.bad_examples.size() < kMaxBadLineExamples) raw.report.bad_examples.push_back(format_error(path, e));
    }
  }
  raw.report.lines = total_lines;
  check_skipped_bad_lines(raw.report, path, options);
  if (raw.report.bad_lines + raw.report.blank_lines > 0) {
    compact(out.user_int, out.ok);
    compact(out.item_int, out.ok);
    compact(out.user_str, out.ok);
    compact(out.item_str, out.ok);
    compact(out.rating, out.ok);
    compact(out.timestamp, out.ok);
  }
  raw.users.integers = std::move(out.user_int);
  raw.users.strings = std::move(out.user_str);
  raw.items.integers = std::move(out.item_int);
  raw.items.strings = std::move(out.item_str);
  raw.rating = std::move(out.rating);
  raw.timestamp = std::move(out.timestamp);
  raw.report.rows = static_cast<std::int64_t>(raw.users.size());
  RF_CHECK_KIND(ErrorKind::kData, raw.report.rows > 0, path, ": no valid data lines");
  return raw;
}

}  // namespace recforge::data
