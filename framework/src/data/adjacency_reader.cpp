// Per-user adjacency lists ("uid item item ..."), the format of the NGCF/LightGCN
// benchmark splits (Gowalla, Yelp2018, Amazon-Book train.txt/test.txt).
// Lines produce a variable number of rows, so each chunk parses into its own
// vectors and the chunks are concatenated in file order.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "field_parsing.hpp"
#include "reader_internal.hpp"
#include "recforge/core/error.hpp"
#include "recforge/core/utf8.hpp"

namespace recforge::data {
namespace {

struct BadLine {
  std::int64_t local_line;  // within its chunk
  int column;
  std::string reason, text;
};

struct Chunk {
  std::vector<std::int64_t> users, items;
  std::int64_t lines = 0, blank = 0;
  std::int64_t bad = 0;             // lines skipped (on_bad_line: skip)
  std::vector<BadLine> examples;    // the first few; with on_bad_line: error, the one that ends the chunk
};

std::string_view next_token(std::string_view line, std::size_t& pos, std::size_t& start) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  start = pos;
  while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
  return line.substr(start, pos - start);
}

}  // namespace

RawInteractions parse_adjacency(std::string_view text, const std::string& path, const ReadOptions& options) {
  RF_CHECK_KIND(ErrorKind::kConfig, options.integer_ids, path, ": adjacency lists need integer ids");
  RF_CHECK_KIND(ErrorKind::kData, !text.empty(), "data file '", path, "' is empty");
  const std::string_view bytes = text;
  text = without_utf8_bom(text);
  const bool skip_bad = options.on_bad_line == BadLinePolicy::kSkip;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();

  // Chunks start right after a '\n'.
  std::vector<std::size_t> starts = {0};
  const std::size_t wanted = std::clamp<std::size_t>(
      text.size() / static_cast<std::size_t>(std::max<std::int64_t>(1, options.chunk_bytes)), 1,
      std::max<std::size_t>(static_cast<std::size_t>(threads) * 8, text.size() >> 20));
  for (std::size_t c = 1; c < wanted; ++c) {
    const std::size_t at = text.size() * c / wanted;
    const char* nl = static_cast<const char*>(std::memchr(text.data() + at, '\n', text.size() - at));
    if (!nl || static_cast<std::size_t>(nl - text.data()) + 1 >= text.size()) break;
    const std::size_t next = static_cast<std::size_t>(nl - text.data()) + 1;
    if (next > starts.back()) starts.push_back(next);
  }
  starts.push_back(text.size());
  const std::size_t chunks = starts.size() - 1;
  std::vector<Chunk> parsed(chunks);

#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (std::size_t c = 0; c < chunks; ++c) {
    Chunk& chunk = parsed[c];
    std::string_view part = text.substr(starts[c], starts[c + 1] - starts[c]);
    std::size_t pos = 0;
    bool stopped = false;  // at a bad line, unless skipping
    while (pos < part.size() && !stopped) {
      const char* nl = static_cast<const char*>(std::memchr(part.data() + pos, '\n', part.size() - pos));
      const std::size_t end = nl ? static_cast<std::size_t>(nl - part.data()) : part.size();
      std::string_view line = part.substr(pos, end - pos);
      pos = end + 1;
      const std::int64_t local_line = chunk.lines++;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const std::size_t rows_before = chunk.users.size();
      // A bad line adds no row: those of its earlier items are taken back.
      const auto fail = [&](std::size_t column, std::string reason) {
        chunk.users.resize(rows_before);
        chunk.items.resize(rows_before);
        ++chunk.bad;
        if (chunk.examples.size() < kMaxBadLineExamples) {
          chunk.examples.push_back(
              {local_line, static_cast<int>(column) + 1, std::move(reason), std::string(line.substr(0, 160))});
        }
        stopped = !skip_bad;
      };
      if (line.find('\0') != std::string_view::npos) {
        fail(line.find('\0'), "NUL byte in line");
        continue;
      }
      if (static_cast<std::int64_t>(line.size()) > options.max_line_bytes) {
        fail(0, "line longer than max_line_bytes (" + std::to_string(options.max_line_bytes) + ")");
        continue;
      }
      std::size_t cursor = 0, start = 0;
      const std::string_view user_text = next_token(line, cursor, start);
      if (user_text.empty()) {
        ++chunk.blank;
        continue;
      }
      std::int64_t user = 0;
      if (detail::parse_id(user_text, user) != detail::FieldStatus::kOk) {
        fail(start, "user id '" + std::string(user_text.substr(0, 40)) + "' is not a non-negative integer");
        continue;
      }
      while (true) {
        const std::string_view item_text = next_token(line, cursor, start);
        if (item_text.empty()) break;
        std::int64_t item = 0;
        if (detail::parse_id(item_text, item) != detail::FieldStatus::kOk) {
          fail(start, "item id '" + std::string(item_text.substr(0, 40)) + "' is not a non-negative integer");
          break;
        }
        chunk.users.push_back(user);
        chunk.items.push_back(item);
      }
    }
  }

  RawInteractions raw;
  raw.report.path = path;
  raw.report.format = Format::kAdjacency;
  raw.report.content_sha256 = block_tree_sha256_of(bytes);
  std::int64_t line_base = 1;
  std::size_t total = 0;
  for (const Chunk& chunk : parsed) {
    for (const BadLine& bad : chunk.examples) {
      const std::string where = fmt::format("{}:{}:{}: {}\n  line: {}", path, line_base + bad.local_line, bad.column,
                                            bad.reason, bad.text);
      if (!skip_bad) RF_THROW(ErrorKind::kData, where);
      if (raw.report.bad_examples.size() < kMaxBadLineExamples) raw.report.bad_examples.push_back(where);
    }
    line_base += chunk.lines;
    total += chunk.users.size();
    raw.report.blank_lines += chunk.blank;
    raw.report.bad_lines += chunk.bad;
  }
  raw.report.lines = line_base - 1;
  check_skipped_bad_lines(raw.report, path, options);
  RF_CHECK_KIND(ErrorKind::kData, total > 0, path, ": no interactions (", raw.report.lines,
                " lines, none lists an item after the user id)");
  raw.users.integers.reserve(total);
  raw.items.integers.reserve(total);
  for (Chunk& chunk : parsed) {
    raw.users.integers.insert(raw.users.integers.end(), chunk.users.begin(), chunk.users.end());
    raw.items.integers.insert(raw.items.integers.end(), chunk.items.begin(), chunk.items.end());
    chunk = Chunk{};
  }
  raw.report.rows = static_cast<std::int64_t>(total);
  return raw;
}

}  // namespace recforge::data
