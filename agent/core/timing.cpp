#include "vipd/core/timing.h"

#include <algorithm>

namespace vipd::core {

Time skew_time(VrrpVersion version, std::uint8_t priority, Time master_adver_interval) {
  const auto weight = 256 - static_cast<std::int64_t>(priority);
  if (version == VrrpVersion::V2) return Time(weight * std::int64_t{1'000'000'000} / 256);
  return Time(weight * master_adver_interval.count() / 256);
}

Time master_down_interval(VrrpVersion version, std::uint8_t priority, Time master_adver_interval) {
  return 3 * master_adver_interval + skew_time(version, priority, master_adver_interval);
}

std::uint8_t effective_priority(std::uint8_t base, int weight_sum) {
  if (base == kOwnerPriority) return base;
  // Clamp the sum first: base + weight_sum must not overflow however many checks contribute.
  const int bounded_weights = std::clamp(weight_sum, -255, 255);
  return static_cast<std::uint8_t>(std::clamp(int{base} + bounded_weights, 1, 254));
}

}  // namespace vipd::core
