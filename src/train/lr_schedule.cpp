#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace infini {

double lr_factor(const ScheduleSection& schedule, int64_t step, int64_t total) {
  const int64_t warmup = schedule.warmup_steps;
  if (step <= warmup) return static_cast<double>(step) / static_cast<double>(warmup);
  if (schedule.kind == ScheduleKind::Constant) return 1.0;
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double progress = std::clamp(static_cast<double>(step - warmup) / span, 0.0, 1.0);
  const double floor = schedule.min_lr_ratio;
  const double shape = schedule.kind == ScheduleKind::Cosine ? 0.5 * (1.0 + std::cos(M_PI * progress))
                                                             : 1.0 - progress;
  return floor + (1.0 - floor) * shape;
}

}  // namespace infini
