// The metric families of one snapshot, in Prometheus's data model: vipd's own (`vipd_*`) and the
// keepalived-compatible ones (`keepalived_*`, keepalived-exporter's names and encodings). Pure:
// the exporter's threads call it on a snapshot they hold; docs/METRICS.md documents every family.
#pragma once

#include <prometheus/metric_family.h>

#include <string_view>
#include <vector>

#include "metrics/snapshot.h"

namespace vipd::metrics {

std::vector<prometheus::MetricFamily> render(const Snapshot& snapshot);

// keepalived's state number, as keepalived-exporter exports it in keepalived_vrrp_state:
// 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT. vipd's STOP (only seen while it exits) reads as INIT.
int keepalived_state_number(core::State state);

// The transitions the core can make, with the reason labels vipd gives them: every instance
// exports these at zero from the start (increase() cannot see the first event of a new series).
std::vector<TransitionKey> known_transitions();

// The reason label of a fault (health_check, interface_down, address_missing, vip_rejected).
std::string_view fault_label(core::FaultReason reason);

// The key vipd_transitions_total counts `change` under. A fault transition is labelled with the
// fault that caused it: the bit raised (FAULT entered) or cleared (FAULT left) between
// `faults_before` and `faults_after` (core::FaultReason bits of the instance).
TransitionKey transition_key(const core::StateChange& change, std::uint8_t faults_before,
                             std::uint8_t faults_after);

}  // namespace vipd::metrics
