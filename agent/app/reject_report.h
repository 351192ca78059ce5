// Rejected VRRP packets in the log, whatever the receive path: per reason, the first at once and
// then at most one line per `interval`, each with the number rejected since that reason's previous
// line. Unknown VRIDs are never reported (other VRRP groups on the segment are normal traffic).
// Pure: the receive path's running totals and the time come in, the lines due go out.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "app/advert_receiver.h"
#include "vipd/core/advert.h"
#include "vipd/core/timing.h"

namespace vipd::app {

class RejectReport {
 public:
  struct Line {
    core::DecodeError reason{};
    std::uint64_t count = 0;  // rejected since the reason's previous line (or since the start)
    core::Time span{0};       // how long that was; 0 for the first line of a reason
  };

  explicit RejectReport(core::Time interval) : interval_(interval) {}

  // `totals`: the receive path's counters (monotonic). The lines due at `now`.
  std::vector<Line> update(core::Time now, const RejectCounters& totals);

  core::Time interval() const { return interval_; }

 private:
  core::Time interval_;
  RejectCounters reported_{};                                // totals at each reason's last line
  std::array<core::Time, core::kRejectReasonSlots> last_{};  // when; 0: never reported
  std::array<bool, core::kRejectReasonSlots> seen_{};
};

}  // namespace vipd::app
