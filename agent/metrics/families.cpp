#include "metrics/families.h"

#include <limits>
#include <string>
#include <utility>

namespace vipd::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr core::State kStates[] = {core::State::Initialize, core::State::Backup,
                                   core::State::Master, core::State::Fault, core::State::Stopped};

constexpr core::FaultReason kFaults[] = {
    core::FaultReason::CheckFailed, core::FaultReason::InterfaceDown,
    core::FaultReason::AddressMissing, core::FaultReason::VipRejected};

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily out;
  out.name = std::move(name);
  out.help = std::move(help);
  out.type = type;
  return out;
}

void add(MetricFamily& family, Labels labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  switch (family.type) {
    case MetricType::Counter:
      metric.counter.value = value;
      break;
    case MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
  family.metric.push_back(std::move(metric));
}

double as_double(std::uint64_t value) {
  return static_cast<double>(value);
}

std::string vrid_text(const InstanceSample& instance) {
  return std::to_string(instance.vrid);
}

std::uint64_t rejected(const RejectCounts& counts,
                       std::initializer_list<core::DecodeError> reasons) {
  std::uint64_t total = 0;
  for (const core::DecodeError reason : reasons) total += counts[static_cast<std::size_t>(reason)];
  return total;
}

// ---- vipd's own ------------------------------------------------------------------------------

void kubernetes_families(const KubernetesSample& k, std::vector<MetricFamily>& out);

void node_families(const Snapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily build =
      family("vipd_build_info", "vipd's version and git commit; always 1", MetricType::Gauge);
  add(build, {{"commit", s.commit}, {"version", s.version}}, 1);
  out.push_back(std::move(build));

  MetricFamily dataplane =
      family("vipd_dataplane",
             "Receive path in use: 1 for the active mode (xdp: the eBPF data plane, raw: "
             "a raw VRRP socket)",
             MetricType::Gauge);
  add(dataplane, {{"mode", "xdp"}}, s.dataplane == Dataplane::Xdp ? 1 : 0);
  add(dataplane, {{"mode", "raw"}}, s.dataplane == Dataplane::Raw ? 1 : 0);
  out.push_back(std::move(dataplane));

  MetricFamily wakeups =
      family("vipd_event_loop_wakeups_total", "Times the event loop woke up to handle events",
             MetricType::Counter);
  add(wakeups, {}, as_double(s.loop_wakeups));
  out.push_back(std::move(wakeups));

  MetricFamily rejects =
      family("vipd_adverts_rejected_total",
             "VRRP packets rejected on the interface, by reason (kernel counters on the XDP path)",
             MetricType::Counter);
  for (const core::DecodeError reason : core::reject_reasons()) {
    add(rejects, {{"interface", s.interface}, {"reason", std::string(core::reason_label(reason))}},
        as_double(s.rejects[static_cast<std::size_t>(reason)]));
  }
  out.push_back(std::move(rejects));

  if (!s.port_refusals.empty()) {
    MetricFamily refusals = family(
        "vipd_port_refusals_total",
        "Connections the monitored port refused (RST answering a SYN), counted by the tc program",
        MetricType::Counter);
    for (const auto& [port, count] : s.port_refusals) {
      add(refusals, {{"port", std::to_string(port)}}, as_double(count));
    }
    out.push_back(std::move(refusals));
  }

  if (s.health) {
    MetricFamily durations = family("vipd_health_check_duration_seconds",
                                    "Duration of each health check run", MetricType::Histogram);
    ClientMetric metric;
    metric.label = {{"check", s.health->name}};
    const DurationHistogram& h = s.health->durations;
    for (std::size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
      metric.histogram.bucket.push_back({h.cumulative[i], h.bounds[i]});
    }
    metric.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
    metric.histogram.sample_count = h.count;
    metric.histogram.sample_sum = h.sum;
    durations.metric.push_back(std::move(metric));
    out.push_back(std::move(durations));
  }
  if (s.kubernetes) kubernetes_families(*s.kubernetes, out);
}

void kubernetes_families(const KubernetesSample& k, std::vector<MetricFamily>& out) {
  const Labels service = {{"service", k.service}};
  MetricFamily reachable = family(
      "vipd_kubernetes_api_reachable",
      "1 while the Kubernetes API answers the local-endpoint check, 0 during an outage (the last "
      "answer is kept)",
      MetricType::Gauge);
  add(reachable, service, k.api_reachable ? 1 : 0);
  out.push_back(std::move(reachable));

  MetricFamily stale = family("vipd_kubernetes_api_stale",
                              "1 when the current API outage outlasted the grace period (the "
                              "check's last answer is still kept)",
                              MetricType::Gauge);
  add(stale, service, k.api_stale ? 1 : 0);
  out.push_back(std::move(stale));

  MetricFamily outages =
      family("vipd_kubernetes_api_outages_total",
             "Outages of the Kubernetes API seen by the local-endpoint check", MetricType::Counter);
  add(outages, service, as_double(k.api_outages));
  out.push_back(std::move(outages));

  MetricFamily failures = family(
      "vipd_kubernetes_api_failures_total",
      "Requests to the Kubernetes API that failed (unreachable, TLS, 401/403, 5xx, bad answer)",
      MetricType::Counter);
  add(failures, service, as_double(k.api_failures));
  out.push_back(std::move(failures));

  MetricFamily relists = family("vipd_kubernetes_relists_total",
                                "Watches the API ended with 410 Gone, each followed by a re-list",
                                MetricType::Counter);
  add(relists, service, as_double(k.relists_after_gone));
  out.push_back(std::move(relists));

  MetricFamily endpoints = family(
      "vipd_service_endpoints",
      "The Service's endpoints as last listed: ready on this node (the check passes while > 0), "
      "not ready on this node, ready elsewhere",
      MetricType::Gauge);
  const std::pair<const char*, int> kinds[] = {{"local_ready", k.local_ready},
                                               {"local_not_ready", k.local_not_ready},
                                               {"ready_elsewhere", k.ready_elsewhere}};
  for (const auto& [where, count] : kinds) {
    add(endpoints, {{"service", k.service}, {"where", where}}, count);
  }
  out.push_back(std::move(endpoints));
}

void instance_families(const Snapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily state =
      family("vipd_instance_state", "1 for the instance's current state, 0 for the others",
             MetricType::Gauge);
  MetricFamily priority =
      family("vipd_instance_priority", "Effective priority (the check weight included)",
             MetricType::Gauge);
  MetricFamily present = family(
      "vipd_vip_present",
      "1 if the VIP is on the interface now (netlink: the host's truth, not vipd's belief), else 0",
      MetricType::Gauge);
  MetricFamily transitions =
      family("vipd_transitions_total", "State transitions, by reason", MetricType::Counter);
  MetricFamily split_brain = family(
      "vipd_split_brain_events_total",
      "Second owners of one of the instance's VIPs found, by kind: vrrp (another VRRP master, "
      "settled by an election over unicast) or foreign (a host with the VIP set by hand, defended)",
      MetricType::Counter);
  MetricFamily alone = family("vipd_alone",
                              "1 while a MASTER expecting peers has heard no other node for "
                              "three Master_Down_Intervals (multicast may be blocked), else 0",
                              MetricType::Gauge);
  MetricFamily peers_heard =
      family("vipd_peers_heard",
             "Other nodes whose adverts for this VRID arrived within three Master_Down_Intervals",
             MetricType::Gauge);
  const std::vector<TransitionKey> known = known_transitions();
  for (const InstanceSample& instance : s.instances) {
    for (const core::State candidate : kStates) {
      add(state,
          {{"iname", instance.name},
           {"interface", s.interface},
           {"state", std::string(core::to_string(candidate))},
           {"vrid", vrid_text(instance)}},
          instance.state == candidate ? 1 : 0);
    }
    add(priority, {{"iname", instance.name}, {"vrid", vrid_text(instance)}}, instance.priority);
    for (const VipSample& vip : instance.vips) {
      add(present, {{"iname", instance.name}, {"interface", s.interface}, {"vip", vip.address}},
          vip.present ? 1 : 0);
    }
    std::map<TransitionKey, std::uint64_t> counts;
    for (const TransitionKey& key : known) counts[key] = 0;
    for (const auto& [key, count] : instance.transitions) counts[key] = count;
    for (const auto& [key, count] : counts) {
      add(transitions,
          {{"from", std::string(core::to_string(key.from))},
           {"iname", instance.name},
           {"reason", key.reason},
           {"to", std::string(core::to_string(key.to))}},
          as_double(count));
    }
    const Labels by_instance = {{"iname", instance.name}, {"vrid", vrid_text(instance)}};
    add(split_brain, {{"iname", instance.name}, {"kind", "foreign"}, {"vrid", vrid_text(instance)}},
        as_double(instance.split_brain_foreign));
    add(split_brain, {{"iname", instance.name}, {"kind", "vrrp"}, {"vrid", vrid_text(instance)}},
        as_double(instance.split_brain_vrrp));
    add(alone, by_instance, instance.alone ? 1 : 0);
    add(peers_heard, by_instance, as_double(instance.peers_heard));
  }
  for (MetricFamily* f :
       {&state, &priority, &present, &transitions, &split_brain, &alone, &peers_heard}) {
    out.push_back(std::move(*f));
  }
}

// ---- keepalived-compatible ---------------------------------------------------------------------

struct KeepalivedCounter {
  const char* name;
  const char* help;
  std::uint64_t (*value)(const InstanceSample&);
};

using core::DecodeError;

// keepalived-exporter's earlier generation of names (the ones issue 12 lists; docs/METRICS.md has
// all three generations). Reasons keepalived has no per-instance counter for (checksum, version,
// family) are only in vipd_adverts_rejected_total.
constexpr KeepalivedCounter kCounters[] = {
    {"keepalived_advert_rcvd_total", "Advertisements received",
     [](const InstanceSample& i) { return i.adverts_received; }},
    {"keepalived_advert_sent_total", "Advertisements sent",
     [](const InstanceSample& i) { return i.adverts_sent; }},
    {"keepalived_become_master_total", "Became master",
     [](const InstanceSample& i) { return i.become_master; }},
    {"keepalived_release_master_total", "Released master",
     [](const InstanceSample& i) { return i.release_master; }},
    {"keepalived_packet_len_err_total", "Packet length errors",
     [](const InstanceSample& i) {
       return rejected(i.rejects, {DecodeError::Truncated, DecodeError::CountMismatch});
     }},
    {"keepalived_advert_interval_err_total", "Advertisement interval errors",
     [](const InstanceSample& i) {
       return rejected(i.rejects, {DecodeError::IntervalMismatch, DecodeError::ZeroInterval});
     }},
    {"keepalived_ip_ttl_err_total", "TTL errors",
     [](const InstanceSample& i) { return rejected(i.rejects, {DecodeError::BadTtl}); }},
    {"keepalived_invalid_type_rcvd_total", "Invalid type errors",
     [](const InstanceSample& i) { return rejected(i.rejects, {DecodeError::BadType}); }},
    // keepalived compares the advert's address list with its own; vipd does not reject on it.
    {"keepalived_addr_list_err_total", "Address list errors",
     [](const InstanceSample&) { return std::uint64_t{0}; }},
    // keepalived's "invalid auth type" (a type it does not know) is vipd's auth type mismatch too.
    {"keepalived_invalid_authtype_total", "Authentication invalid",
     [](const InstanceSample&) { return std::uint64_t{0}; }},
    {"keepalived_authtype_mismatch_total", "Authentication mismatch",
     [](const InstanceSample& i) { return rejected(i.rejects, {DecodeError::AuthTypeMismatch}); }},
    {"keepalived_auth_failure_total", "Authentication failure",
     [](const InstanceSample& i) { return rejected(i.rejects, {DecodeError::AuthMismatch}); }},
    {"keepalived_pri_zero_rcvd_total", "Priority zero received",
     [](const InstanceSample& i) { return i.priority_zero_received; }},
    {"keepalived_pri_zero_sent_total", "Priority zero sent",
     [](const InstanceSample& i) { return i.priority_zero_sent; }},
};

void keepalived_families(const Snapshot& s, std::vector<MetricFamily>& out) {
  MetricFamily up = family("keepalived_up", "Status", MetricType::Gauge);
  add(up, {}, 1);
  out.push_back(std::move(up));

  MetricFamily state =
      family("keepalived_vrrp_state", "State of vrrp (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT)",
             MetricType::Gauge);
  MetricFamily check =
      family("keepalived_check_script_status", "Check script status for each VIP (1 ok, 0 failed)",
             MetricType::Gauge);
  for (const InstanceSample& instance : s.instances) {
    for (const VipSample& vip : instance.vips) {
      Labels labels = {{"iname", instance.name},
                       {"intf", s.interface},
                       {"ip_address", vip.address},
                       {"vrid", vrid_text(instance)}};
      add(state, labels, keepalived_state_number(instance.state));
      if (s.health && s.health->passed) add(check, labels, *s.health->passed ? 1 : 0);
    }
  }
  out.push_back(std::move(state));
  if (!check.metric.empty()) out.push_back(std::move(check));

  for (const KeepalivedCounter& counter : kCounters) {
    MetricFamily f = family(counter.name, counter.help, MetricType::Counter);
    for (const InstanceSample& instance : s.instances) {
      add(f,
          {{"iname", instance.name},
           {"intf", s.interface},
           {"state", std::string(core::to_string(instance.state))},
           {"vrid", vrid_text(instance)}},
          as_double(counter.value(instance)));
    }
    out.push_back(std::move(f));
  }
  // keepalived-exporter exports keepalived's garp_delay setting (seconds) under this name.
  MetricFamily garp =
      family("keepalived_garp_delay_total", "Gratuitous ARP delay", MetricType::Counter);
  for (const InstanceSample& instance : s.instances) {
    add(garp,
        {{"iname", instance.name},
         {"intf", s.interface},
         {"state", std::string(core::to_string(instance.state))},
         {"vrid", vrid_text(instance)}},
        instance.garp_delay_s);
  }
  out.push_back(std::move(garp));
}

}  // namespace

int keepalived_state_number(core::State state) {
  switch (state) {
    case core::State::Backup:
      return 1;
    case core::State::Master:
      return 2;
    case core::State::Fault:
      return 3;
    case core::State::Initialize:
    case core::State::Stopped:
      break;
  }
  return 0;
}

std::string_view fault_label(core::FaultReason reason) {
  switch (reason) {
    case core::FaultReason::CheckFailed:
      return "health_check";
    case core::FaultReason::InterfaceDown:
      return "interface_down";
    case core::FaultReason::AddressMissing:
      return "address_missing";
    case core::FaultReason::VipRejected:
      return "vip_rejected";
  }
  return "fault";
}

TransitionKey transition_key(const core::StateChange& change, std::uint8_t faults_before,
                             std::uint8_t faults_after) {
  TransitionKey key{change.from, change.to, {}};
  switch (change.reason) {
    case core::StateReason::Startup:
      key.reason = "startup";
      return key;
    case core::StateReason::AddressOwner:
      key.reason = "address_owner";
      return key;
    case core::StateReason::MasterDown:
      key.reason = "master_down";
      return key;
    case core::StateReason::HigherPriority:
      key.reason = "higher_priority";
      return key;
    case core::StateReason::Stopped:
      key.reason = "stopped";
      return key;
    case core::StateReason::FaultRaised:
    case core::StateReason::FaultCleared:
      break;
  }
  const bool raised = change.reason == core::StateReason::FaultRaised;
  const auto changed = static_cast<std::uint8_t>(raised ? faults_after & ~faults_before
                                                        : faults_before & ~faults_after);
  // Entering FAULT at start-up with a fault already present shows no change: name what is raised.
  const std::uint8_t bits = changed != 0 ? changed : (raised ? faults_after : faults_before);
  key.reason = "fault";
  for (const core::FaultReason fault : kFaults) {
    if ((bits & static_cast<std::uint8_t>(fault)) != 0) {
      key.reason = fault_label(fault);
      break;
    }
  }
  return key;
}

std::vector<TransitionKey> known_transitions() {
  using core::State;
  std::vector<TransitionKey> keys = {
      {State::Initialize, State::Backup, "startup"},
      {State::Initialize, State::Master, "address_owner"},
      {State::Backup, State::Master, "master_down"},
      {State::Master, State::Backup, "higher_priority"},
  };
  for (const core::FaultReason fault : kFaults) {
    const std::string label(fault_label(fault));
    for (const State from : {State::Initialize, State::Backup, State::Master}) {
      keys.push_back({from, State::Fault, label});
    }
    keys.push_back({State::Fault, State::Backup, label});
    keys.push_back({State::Fault, State::Master, label});
  }
  for (const State from : {State::Initialize, State::Backup, State::Master, State::Fault}) {
    keys.push_back({from, State::Stopped, "stopped"});
  }
  return keys;
}

std::vector<MetricFamily> render(const Snapshot& snapshot) {
  std::vector<MetricFamily> out;
  node_families(snapshot, out);
  instance_families(snapshot, out);
  keepalived_families(snapshot, out);
  return out;
}

}  // namespace vipd::metrics
