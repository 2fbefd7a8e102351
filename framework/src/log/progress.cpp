// Progress bar rendering: redraw on a TTY, periodic plain lines otherwise.
#include "recforge/log/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <optional>

#include "recforge/log/logging.hpp"

namespace recforge {
namespace {
std::optional<bool> g_forced_tty;
}

void Progress::force_tty(bool tty) { g_forced_tty = tty; }

namespace {
// A redrawn bar only on a real terminal. mpirun gives ranks a pty even when its
// own output goes to a file, so under a launcher plain lines are the default;
// RECFORGE_PROGRESS=tty|plain overrides.
bool want_tty() {
  if (const char* mode = std::getenv("RECFORGE_PROGRESS")) return std::string_view(mode) == "tty";
  if (std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("SLURM_PROCID")) return false;
  return isatty(fileno(stdout)) != 0;
}
}  // namespace

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds != seconds) return "?";
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const auto total = static_cast<long long>(seconds + 0.5);
  if (total < 3600) return fmt::format("{} m {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} m", total / 3600, (total % 3600) / 60);
}

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  active_ = log::rank() == 0 && log::enabled(log::Level::kInfo);
  tty_ = g_forced_tty.value_or(want_tty());
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (active_ && !finished_ && tty_ && done_ > 0) std::fputs("\n", stdout);
}

void Progress::update(std::int64_t done, const Values& values) {
  done_ = done;
  if (!active_ || (total_ > 0 && done >= total_)) return;  // the last line is finish()'s
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const double fraction = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 0.0;
  const bool due = tty_ ? since_draw >= 0.1 : (fraction - last_fraction_printed_ >= 0.1 || since_draw >= 30.0);
  if (!due) return;
  last_draw_ = now;
  last_fraction_printed_ = fraction;
  render(false, values);
}

void Progress::finish(const Values& values) {
  if (finished_) return;
  finished_ = true;
  if (total_ > 0) done_ = total_;
  if (active_) render(true, values);
}

void Progress::render(bool final_line, const Values& values) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string line = label_;
  if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      line += " [" + std::string(static_cast<std::size_t>(filled), '#') +
              std::string(static_cast<std::size_t>(kWidth - filled), '.') + "]";
    }
    line += fmt::format(" {:3.0f}% {}/{}", fraction * 100, done_, total_);
  } else {
    line += fmt::format(" {}", done_);
  }
  line += fmt::format(" {}, {:.4g} {}/s", format_duration(elapsed), rate, unit_);
  if (!final_line && total_ > 0 && rate > 0) {
    line += ", ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
  }
  for (const auto& [name, value] : values) line += fmt::format(", {} {:.5g}", name, value);
  if (tty_) {
    std::fprintf(stdout, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stdout, "%s\n", line.c_str());
  }
  std::fflush(stdout);
}

}  // namespace recforge
