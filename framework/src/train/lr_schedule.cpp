// Learning-rate schedules as functions of the global step.
#include "recforge/train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace recforge {

Schema lr_schedule_schema() {
  Schema s("learning rate over time");
  s.add_string("type", "constant", "schedule", {"constant", "warmup_cosine", "step"})
      .add_int("warmup_steps", 0, "warmup_cosine: steps of linear warm-up from 0", 0)
      .add_float("min_lr_ratio", 0.0, "warmup_cosine: final lr as a fraction of the base lr", 0.0, 1.0)
      .add_int("step_epochs", 10, "step: decay every this many epochs", 1)
      .add_float("gamma", 0.1, "step: decay factor", 0.0, 1.0);
  return s;
}

LrSchedule::LrSchedule(const ConfigNode& c, double base_lr, std::int64_t steps_per_epoch, std::int64_t total_steps)
    : type_(c.get_string("type")),
      base_lr_(base_lr),
      steps_per_epoch_(std::max<std::int64_t>(1, steps_per_epoch)),
      total_steps_(std::max<std::int64_t>(1, total_steps)),
      warmup_steps_(c.get_int("warmup_steps")),
      step_epochs_(c.get_int("step_epochs")),
      min_ratio_(c.get_double("min_lr_ratio")),
      gamma_(c.get_double("gamma")) {}

double LrSchedule::at(std::int64_t global_step) const {
  if (type_ == "constant") return base_lr_;
  if (type_ == "step") {
    const std::int64_t epoch = global_step / steps_per_epoch_;
    return base_lr_ * std::pow(gamma_, static_cast<double>(epoch / step_epochs_));
  }
  // warmup_cosine
  if (global_step < warmup_steps_) return base_lr_ * static_cast<double>(global_step + 1) / static_cast<double>(warmup_steps_);
  const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps_ - warmup_steps_));
  const double progress = std::min(1.0, static_cast<double>(global_step - warmup_steps_) / span);
  const double cosine = 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  return base_lr_ * (min_ratio_ + (1.0 - min_ratio_) * cosine);
}

}  // namespace recforge
