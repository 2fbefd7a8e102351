// Learning-rate schedules, as a pure function of the global step (so a resumed
// run continues the schedule exactly).
//   constant       lr
//   warmup_cosine  linear warm-up over warmup_steps, then cosine decay to min_lr_ratio * lr
//   step           lr * gamma^(epoch / step_epochs)
#pragma once

#include <cstdint>
#include <string>

#include "recforge/config/schema.hpp"

namespace recforge {

Schema lr_schedule_schema();

class LrSchedule {
 public:
  LrSchedule(const ConfigNode& config, double base_lr, std::int64_t steps_per_epoch, std::int64_t total_steps);
  double at(std::int64_t global_step) const;

 private:
  std::string type_;
  double base_lr_;
  std::int64_t steps_per_epoch_, total_steps_, warmup_steps_, step_epochs_;
  double min_ratio_, gamma_;
};

}  // namespace recforge
