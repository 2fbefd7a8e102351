// Logging backend: one spdlog logger writing to stderr with a rank-aware prefix.
#include "recforge/log/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "recforge/core/error.hpp"

namespace recforge::log {
namespace {

struct State {
  std::atomic<int> rank{0};
  std::atomic<int> world_size{1};
  std::atomic<Level> level{Level::kInfo};
  std::atomic<bool> all_ranks{false};
  std::shared_ptr<spdlog::logger> logger;

  State() : logger(std::make_shared<spdlog::logger>("recforge", std::make_shared<spdlog::sinks::stderr_sink_mt>())) {
    logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    logger->set_level(spdlog::level::trace);
    logger->flush_on(spdlog::level::trace);
  }
};

State& state() {
  static State s;
  return s;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

Level parse_level(std::string_view name) {
  if (name == "trace") return Level::kTrace;
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  RF_THROW(ErrorKind::kConfig, "unknown log level '", name, "' (trace, debug, info, warn, error, off)");
}

void init(int rank, int world_size, Level level, bool all_ranks) {
  State& s = state();
  s.rank = rank;
  s.world_size = world_size;
  s.level = level;
  s.all_ranks = all_ranks;
  const std::string prefix = world_size > 1
                                 ? "[rank " + std::to_string(rank) + "/" + std::to_string(world_size) + "] "
                                 : std::string();
  s.logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] " + prefix + "[%l] %v");
}

void set_level(Level level) { state().level = level; }

bool enabled(Level level) {
  const State& s = state();
  if (level < s.level.load() || level == Level::kOff) return false;
  // Non-zero ranks stay quiet below warnings unless asked otherwise.
  return s.rank == 0 || s.all_ranks || level >= Level::kWarn;
}

void write(Level level, std::string_view message) { state().logger->log(to_spdlog(level), message); }

int rank() { return state().rank; }
int world_size() { return state().world_size; }

}  // namespace recforge::log

namespace recforge::detail {
void log_error_nothrow(const char* message) {
  try {
    log::write(log::Level::kError, message);
  } catch (...) {
  }
}
}  // namespace recforge::detail
