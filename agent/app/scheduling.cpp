#include "app/scheduling.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>

namespace vipd::app {

void apply_scheduling(const config::SchedulingPlan& plan) {
  if (plan.realtime_priority > 0) {
    sched_param param{};
    param.sched_priority = plan.realtime_priority;
    // SCHED_RESET_ON_FORK: health-check scripts and notify scripts run at normal priority.
    if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) == 0) {
      spdlog::info("scheduling: SCHED_FIFO priority {} (children reset to normal)",
                   plan.realtime_priority);
    } else {
      spdlog::warn(
          "scheduling: cannot switch to SCHED_FIFO priority {}: {} (needs CAP_SYS_NICE); "
          "running with normal scheduling",
          plan.realtime_priority, std::strerror(errno));
    }
  }
  if (plan.lock_memory) {
    if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
      spdlog::info("scheduling: memory locked (mlockall)");
    } else {
      spdlog::warn("scheduling: cannot lock memory: {} (needs CAP_IPC_LOCK or RLIMIT_MEMLOCK)",
                   std::strerror(errno));
    }
  }
  if (plan.timer_slack_us > 0) {
    const unsigned long slack_ns = static_cast<unsigned long>(plan.timer_slack_us) * 1000UL;
    if (prctl(PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) == 0) {
      spdlog::info("scheduling: timer slack {} us", plan.timer_slack_us);
    } else {
      spdlog::warn("scheduling: cannot set the timer slack: {}", std::strerror(errno));
    }
  }
}

}  // namespace vipd::app
