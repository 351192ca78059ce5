// VRRP timer arithmetic and effective priority: pure functions of configuration and what was heard.
#pragma once

#include <chrono>
#include <cstdint>

#include "vipd/core/advert.h"

namespace vipd::core {

// Monotonic time since an arbitrary epoch; the daemon uses CLOCK_MONOTONIC, the simulator virtual
// time.
using Time = std::chrono::nanoseconds;
inline constexpr Time kNever = Time::max();

inline constexpr std::uint8_t kOwnerPriority = 255;
inline constexpr std::uint8_t kStopPriority = 0;

constexpr Time from_centiseconds(std::uint16_t cs) {
  return std::chrono::milliseconds(cs * 10);
}
constexpr std::uint16_t to_centiseconds(Time t) {
  return static_cast<std::uint16_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t).count() / 10);
}

// v2: (256 - P) / 256 s.  v3: ((256 - P) * Master_Adver_Interval) / 256, computed in nanoseconds
// rather than truncated to whole centiseconds (keepalived truncates, which makes every priority's
// skew 0 at 10 ms adverts and lets all backups fire together).
Time skew_time(VrrpVersion version, std::uint8_t priority, Time master_adver_interval);
// 3 * Master_Adver_Interval + Skew_Time.
Time master_down_interval(VrrpVersion version, std::uint8_t priority, Time master_adver_interval);

// Base priority adjusted by the sum of health-check weights, clamped to 1..254; an address owner
// (base 255) is never adjusted.
std::uint8_t effective_priority(std::uint8_t base, int weight_sum);

}  // namespace vipd::core
