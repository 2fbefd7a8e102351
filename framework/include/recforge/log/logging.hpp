// Rank-aware logging. Lines look like
//   [2026-11-23 14:02:11.402] [rank 1/2] [warn] data: 3 bad lines skipped
// By default only rank 0 prints info and below; every rank prints warnings and
// errors. spdlog does the writing; this header only needs fmt.
//
//   log::info("epoch {} loss {:.4f}", epoch, loss);
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace recforge::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

Level parse_level(std::string_view name);  // "trace", "debug", "info", "warn", "error", "off"

// Sets this process's rank for the prefix and the rank-0-only rule.
// `all_ranks` makes every rank print at `level`.
void init(int rank, int world_size, Level level = Level::kInfo, bool all_ranks = false);
void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view message);
int rank();
int world_size();

template <class... Args>
void trace(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kTrace)) write(Level::kTrace, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kError)) write(Level::kError, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace recforge::log
