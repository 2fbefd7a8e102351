// A progress bar for long work (epochs, data loading, evaluation), shown on rank 0.
// On a terminal it redraws one line (at most 10 times a second) with rate, ETA
// and the current values; when stdout is not a terminal (CI logs, files) it
// prints a plain line every 10% or 30 s, and once at the end.
//
//   Progress bar("epoch 3", num_batches, "batch");
//   for (...) { ...; bar.update(done, {{"loss", loss}}); }
//   bar.finish({{"loss", mean_loss}});
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace recforge {

class Progress {
 public:
  using Values = std::vector<std::pair<std::string, double>>;

  Progress(std::string label, std::int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(std::int64_t done, const Values& values = {});
  void finish(const Values& values = {});

  // Forces the plain (non-TTY) or the redrawing style; for tests.
  static void force_tty(bool tty);

 private:
  void render(bool final_line, const Values& values);
  std::string label_, unit_;
  std::int64_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  double last_fraction_printed_ = 0;
  bool tty_ = false, active_ = false, finished_ = false;
};

// "1.2 s", "3 m 04 s", "2 h 05 m"
std::string format_duration(double seconds);

}  // namespace recforge
