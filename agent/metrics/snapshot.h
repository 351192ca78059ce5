// What one scrape shows: a plain-data picture of the node, taken by the event loop (once a second
// and after every state change) and handed to the exporter's threads, which only ever read it.
// Everything a metric needs is copied in here, so rendering a scrape touches no daemon state, no
// BPF map and no socket: a scrape can never block or slow the loop.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "vipd/core/advert.h"
#include "vipd/core/instance.h"

namespace vipd::metrics {

// Rejected packets by reason (index: core::DecodeError; slot 0 unused), as the kernel counts them
// (vipd_vrid_stat.rx_invalid) or the raw-socket path does.
using RejectCounts = std::array<std::uint64_t, core::kRejectReasonSlots>;

// One transition as vipd_transitions_total labels it: states by name, the reason in snake_case
// (startup, master_down, higher_priority, health_check, interface_down, ...).
struct TransitionKey {
  core::State from = core::State::Initialize;
  core::State to = core::State::Initialize;
  std::string reason;
  friend auto operator<=>(const TransitionKey&, const TransitionKey&) = default;
};

struct VipSample {
  std::string address;   // canonical text, no prefix length
  bool present = false;  // on the interface right now, as netlink reports it
};

struct InstanceSample {
  std::string name;
  std::uint8_t vrid = 0;
  core::State state = core::State::Initialize;
  std::uint8_t priority = 0;
  std::vector<VipSample> vips;

  // keepalived's per-instance statistics (keepalived-exporter's names, docs/METRICS.md).
  std::uint64_t adverts_received = 0;  // valid adverts for this VRID (kernel counter on XDP)
  std::uint64_t adverts_sent = 0;
  std::uint64_t become_master = 0;
  std::uint64_t release_master = 0;
  std::uint64_t priority_zero_received = 0;
  std::uint64_t priority_zero_sent = 0;
  RejectCounts rejects{};   // counted under this VRID
  double garp_delay_s = 0;  // keepalived's garp_master_delay (the exporter's "garp_delay")

  std::map<TransitionKey, std::uint64_t> transitions;

  // Split brain (docs/SPLIT_BRAIN.md): second owners of a VIP found, by what they turned out to
  // be; the alone warning; other nodes heard within three Master_Down_Intervals.
  std::uint64_t split_brain_vrrp = 0;
  std::uint64_t split_brain_foreign = 0;
  bool alone = false;
  std::uint64_t peers_heard = 0;
};

// Health-check durations: cumulative counts per upper bound (seconds), as Prometheus wants them.
struct DurationHistogram {
  std::vector<double> bounds;
  std::vector<std::uint64_t> cumulative;  // one per bound; the +Inf bucket is `count`
  std::uint64_t count = 0;
  double sum = 0;
};

struct HealthSample {
  std::string name;            // chk_<config name>
  std::optional<bool> passed;  // nullopt until the first answer
  DurationHistogram durations;
};

// The Kubernetes API as the local-endpoint check sees it (OPENSHIFT_HA_MONITOR_SERVICE).
struct KubernetesSample {
  std::string service;  // namespace/name
  bool api_reachable = true;
  bool api_stale = false;  // the outage outlasted the grace period (the verdict is kept anyway)
  std::uint64_t api_outages = 0;
  std::uint64_t api_failures = 0;        // requests that failed, in and out of outages
  std::uint64_t relists_after_gone = 0;  // watches the API ended with 410 Gone
  int local_ready = 0;
  int local_not_ready = 0;
  int ready_elsewhere = 0;
};

enum class Dataplane : std::uint8_t { Xdp, Raw };

struct Snapshot {
  std::string interface;
  std::string version;
  std::string commit;
  Dataplane dataplane = Dataplane::Raw;
  std::vector<InstanceSample> instances;
  RejectCounts rejects{};  // every reason on the interface, unknown VRIDs included
  std::uint64_t loop_wakeups = 0;
  std::map<std::uint16_t, std::uint64_t> port_refusals;  // monitored port -> RSTs answering SYNs
  std::optional<HealthSample> health;
  std::optional<KubernetesSample> kubernetes;
  std::uint64_t adverts_accepted = 0;
  std::uint64_t announcements_sent = 0;
  std::uint64_t advert_send_errors = 0;
};

}  // namespace vipd::metrics
