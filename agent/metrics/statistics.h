// SIGUSR2's statistics: the counters of one snapshot as log lines (keepalived writes its stats
// file on SIGUSR2; vipd writes them to its log, so they land in the journal or the pod log).
#pragma once

#include <string>
#include <vector>

#include "metrics/snapshot.h"

namespace vipd::metrics {

// One line for the node (receive path, adverts accepted/sent, send errors, announcements, loop
// wakeups, rejects by reason), then one per instance (adverts sent/received, priority 0
// sent/received, master transitions, rejects under its VRID).
std::vector<std::string> statistics_lines(const Snapshot& snapshot);

}  // namespace vipd::metrics
