// Applies the scheduling plan to the running process: SCHED_FIFO, mlockall, timer slack. A setting
// the kernel refuses (no CAP_SYS_NICE / CAP_IPC_LOCK) is reported and vipd runs on without it.
#pragma once

#include "config/plan.h"

namespace vipd::app {

void apply_scheduling(const config::SchedulingPlan& plan);

}  // namespace vipd::app
