// libFuzzer harness for the ratings readers (RELIABILITY I4).
//
// Input: byte 0 picks the format, byte 1 the thread count and chunk size (so
// chunk boundaries land everywhere), the rest is the file. Properties checked:
//   - a successful parse re-serialises to CSV that parses back to the same rows;
//   - an error names the input and, when it has a line number, that number is
//     between 1 and the number of lines of the input;
//   - nothing but recforge::Error escapes.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "recforge/core/error.hpp"
#include "recforge/data/reader.hpp"
#include "recforge/log/logging.hpp"

using namespace recforge;
using namespace recforge::data;

namespace {

[[noreturn]] void property_failed(const char* what, const std::string& detail) {
  std::fprintf(stderr, "property violated: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string reserialise(const RawInteractions& raw) {
  std::string out = "user,item,rating,timestamp\n";
  char buffer[64];
  for (std::size_t i = 0; i < raw.users.size(); ++i) {
    if (raw.users.integers.empty()) {
      return {};  // string ids: covered by the line-number property only
    }
    out += std::to_string(raw.users.integers[i]) + "," + std::to_string(raw.items.integers[i]) + ",";
    if (!raw.rating.empty()) {
      std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(raw.rating[i]));
      out += buffer;
    } else {
      out += "1";
    }
    out += "," + (raw.timestamp.empty() ? std::string("0") : std::to_string(raw.timestamp[i])) + "\n";
  }
  return out;
}

void check_error_line(const std::string& message, const std::string& name, std::string_view text) {
  if (message.rfind(name + ":", 0) != 0 && message.find("'" + name + "'") == std::string::npos) {
    property_failed("error does not name the input", message);
  }
  if (message.rfind(name + ":", 0) != 0) return;
  const char* first = message.data() + name.size() + 1;
  long long line = 0;
  auto [end, ec] = std::from_chars(first, message.data() + message.size(), line);
  if (ec != std::errc()) return;  // a file-level message ("...: no data lines")
  const long long lines = static_cast<long long>(std::count(text.begin(), text.end(), '\n')) + 1;
  if (line < 1 || line > lines) {
    property_failed("error line outside the input", message + "\n(lines: " + std::to_string(lines) + ")");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::init(0, 1, log::Level::kOff);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const char* const kNames[] = {"ratings.csv", "ratings.dat", "u.data", "train.txt", "generic.csv"};
  const int mode = data[0] % 5;
  // Mode 0 with bit 0x40: a renamed .csv, MovieLens only by its header (format auto).
  const std::string name = mode == 0 && (data[1] & 0x40) ? "renamed.csv" : kNames[mode];
  ReadOptions options;
  options.threads = 1 + (data[1] & 1);
  options.chunk_bytes = 1 + (data[1] >> 1) * 3;
  options.max_line_bytes = 512;
  options.on_bad_line = (data[1] & 0x80) ? BadLinePolicy::kSkip : BadLinePolicy::kError;
  options.max_bad_lines = 3;
  if (mode == 4) {
    options.format = Format::kCsv;
    options.integer_ids = (data[1] & 0x40) != 0;
    options.rating_column = "rating";
    options.timestamp_column = "timestamp";
  }
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  RawInteractions raw;
  try {
    raw = parse_interactions(text, name, options);
  } catch (const Error& e) {
    check_error_line(e.message(), name, text);
    return 0;
  }
  if (static_cast<std::int64_t>(raw.users.size()) != raw.report.rows || raw.users.size() != raw.items.size()) {
    property_failed("row count mismatch", std::to_string(raw.report.rows));
  }
  const std::string again = reserialise(raw);
  if (again.empty()) return 0;
  ReadOptions generic;
  generic.format = Format::kCsv;
  generic.rating_column = "rating";
  generic.timestamp_column = "timestamp";
  generic.max_line_bytes = 1 << 20;
  try {
    const RawInteractions back = parse_interactions(again, "reserialised.csv", generic);
    const bool same = back.users.integers == raw.users.integers && back.items.integers == raw.items.integers &&
                      (raw.rating.empty() || back.rating == raw.rating) &&
                      (raw.timestamp.empty() || back.timestamp == raw.timestamp);
    if (!same) property_failed("re-serialised rows differ", again.substr(0, 400));
  } catch (const Error& e) {
    property_failed("re-serialised rows do not parse", std::string(e.what()) + "\n" + again.substr(0, 400));
  }
  return 0;
}
