// Learning-rate schedules: linear warmup from 0, then cosine or linear decay to a floor, or
// constant. A pure function of the step, so resuming needs only the step count.
#pragma once

#include <cstdint>

#include "config/run_config.h"

namespace infini {

// The multiplier of the peak learning rate for update number `step` (1-based) of `total`.
double lr_factor(const ScheduleSection& schedule, int64_t step, int64_t total);

}  // namespace infini
