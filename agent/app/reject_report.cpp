#include "app/reject_report.h"

namespace vipd::app {

std::vector<RejectReport::Line> RejectReport::update(core::Time now, const RejectCounters& totals) {
  std::vector<Line> due;
  for (std::size_t reason = 1; reason < totals.size(); ++reason) {
    if (static_cast<core::DecodeError>(reason) == core::DecodeError::UnknownVrid) continue;
    if (totals[reason] <= reported_[reason]) continue;
    if (seen_[reason] && now - last_[reason] < interval_) continue;
    due.push_back({static_cast<core::DecodeError>(reason), totals[reason] - reported_[reason],
                   seen_[reason] ? now - last_[reason] : core::Time{0}});
    reported_[reason] = totals[reason];
    last_[reason] = now;
    seen_[reason] = true;
  }
  return due;
}

}  // namespace vipd::app
