// The daemon's metrics, systemd status and statistics: what the shell counts beside the node, the
// snapshot the exporter serves, and when it is taken (once a second and after every event batch
// that changed a state or an address). Nothing here decides anything for the node.
#include <spdlog/spdlog.h>

#include "app/daemon.h"
#include "app/version.h"
#include "log/log.h"
#include "metrics/families.h"
#include "metrics/statistics.h"

namespace vipd::app {
namespace {

// On an exporter thread at scrape time (and on the loop for SIGUSR2): the XDP program's per-VRID
// counters and the tc program's port counters, straight from their maps. Reads nothing else.
void read_kernel_counters(const bpf::Dataplane& dataplane, metrics::Snapshot& s) {
  metrics::RejectCounts node_rejects{};
  std::uint64_t accepted = 0;
  auto add_rejects = [&](const vipd_vrid_stat& stats, metrics::RejectCounts& into) {
    for (std::size_t reason = 1; reason < into.size(); ++reason) {
      into[reason] += stats.rx_invalid[reason];
    }
  };
  // VRID 0: adverts for VRIDs this node does not serve, and packets rejected before their VRID.
  if (const auto unknown = dataplane.vrid_stats(0)) add_rejects(unknown.value(), node_rejects);
  for (metrics::InstanceSample& sample : s.instances) {
    const auto stats = dataplane.vrid_stats(sample.vrid);
    if (!stats) continue;
    sample.adverts_received = stats.value().rx_valid;
    sample.rejects = {};
    add_rejects(stats.value(), sample.rejects);
    add_rejects(stats.value(), node_rejects);
    accepted += stats.value().rx_valid;
  }
  s.rejects = node_rejects;
  s.adverts_accepted = accepted;
  for (auto& [port, refusals] : s.port_refusals) {
    if (const auto stats = dataplane.port_stats(port)) refusals = stats.value().rst_tx;
  }
}

metrics::KubernetesSample kubernetes_sample(const k8s::EndpointWatch& watch) {
  metrics::KubernetesSample k;
  k.service = watch.service();
  k.api_reachable = watch.api().reachable();
  k.api_stale = watch.api().stale();
  k.api_outages = watch.api().outages();
  k.api_failures = watch.failures();
  k.relists_after_gone = watch.relists_after_gone();
  k.local_ready = watch.count().local_ready;
  k.local_not_ready = watch.count().local_not_ready;
  k.ready_elsewhere = watch.count().ready_elsewhere;
  return k;
}

}  // namespace

void Daemon::count(std::size_t index, const node::StateChanged& changed) {
  if (index >= counters_.size()) counters_.resize(index + 1);
  InstanceCounters& counters = counters_[index];
  const std::uint8_t faults = node_->instance(index).faults;
  ++counters.transitions[metrics::transition_key(changed.change, counters.faults_seen, faults)];
  counters.faults_seen = faults;
  if (changed.change.to == core::State::Master) ++counters.become_master;
  if (changed.change.from == core::State::Master) ++counters.release_master;
  snapshot_due_ = true;
}

void Daemon::refresh_fault_bits() {
  for (std::size_t i = 0; i < counters_.size() && i < node_->size(); ++i) {
    counters_[i].faults_seen = node_->instance(i).faults;
  }
}

metrics::Snapshot Daemon::take_snapshot() const {
  metrics::Snapshot s;
  s.interface = plan_.interface;
  s.version = version_number();
  s.commit = git_commit();
  s.dataplane = dataplane_ ? metrics::Dataplane::Xdp : metrics::Dataplane::Raw;
  const double garp_delay = std::chrono::duration<double>(plan_.garp.delay).count();
  for (std::size_t i = 0; i < node_->size(); ++i) {
    if (!node_->active(i)) continue;
    const node::InstanceState& instance = node_->instance(i);
    metrics::InstanceSample& sample = s.instances.emplace_back();
    sample.name = instance.plan.name;
    sample.vrid = instance.plan.core.vrid;
    sample.state = instance.core.state();
    sample.priority = instance.core.priority();
    for (const config::Vip& vip : instance.plan.vips) {
      const bool present =
          std::find(present_.begin(), present_.end(), vip.address) != present_.end();
      sample.vips.push_back({vip.address.to_string(), present});
    }
    // On the XDP path the kernel's counters are read at scrape time (read_kernel_counters); the
    // raw-socket path counts in user space, here.
    if (!dataplane_) {
      const VridCounters counted = receiver_->vrid_counters(sample.vrid);
      sample.adverts_received = counted.valid;
      sample.rejects = counted.rejects;
    }
    sample.priority_zero_received = receiver_->vrid_counters(sample.vrid).priority_zero;
    sample.adverts_sent = instance.adverts_sent;
    sample.garp_delay_s = garp_delay;
    sample.split_brain_vrrp = instance.conflicts_vrrp;
    sample.split_brain_foreign = instance.conflicts_foreign;
    sample.alone = instance.alone;
    sample.peers_heard = node_->peers_heard_recently(i);
    if (i < counters_.size()) {
      const InstanceCounters& counters = counters_[i];
      sample.transitions = counters.transitions;
      sample.become_master = counters.become_master;
      sample.release_master = counters.release_master;
      sample.priority_zero_sent = counters.priority_zero_sent;
    }
  }
  if (!dataplane_) {
    s.rejects = receiver_->rejects();
    s.adverts_accepted = receiver_->accepted();
  }
  s.loop_wakeups = loop_.wakeups();
  s.announcements_sent = announcer_.sent();
  s.advert_send_errors = socket_.send_errors();
  // The count itself is the kernel's, read at scrape time; 0 without the data plane.
  if (plan_.health.kind == config::HealthPlan::Kind::TcpPort)
    s.port_refusals[plan_.health.port] = 0;
  if (plan_.health.kind != config::HealthPlan::Kind::None) {
    metrics::HealthSample& health = s.health.emplace();
    health.name = plan_.health.name;
    if (checker_) {
      if (checker_->status() != health::Health::Unknown) {
        health.passed = checker_->status() == health::Health::Healthy;
      }
      const health::CheckDurations& durations = checker_->durations();
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < durations.kBounds.size(); ++b) {
        cumulative += durations.buckets[b];
        health.durations.bounds.push_back(durations.kBounds[b]);
        health.durations.cumulative.push_back(cumulative);
      }
      health.durations.count = durations.count;
      health.durations.sum = durations.sum;
    } else if (endpoint_watch_ && endpoint_watch_->verdict() != k8s::Verdict::Unknown) {
      health.passed = endpoint_watch_->verdict() == k8s::Verdict::Healthy;
    }
  }
  if (endpoint_watch_) s.kubernetes = kubernetes_sample(*endpoint_watch_);
  return s;
}

void Daemon::install_kernel_reader() {
  if (!exporter_ || !dataplane_) return;
  const bpf::Dataplane* dataplane = dataplane_.get();
  exporter_->set_kernel_reader(
      [dataplane](metrics::Snapshot& s) { read_kernel_counters(*dataplane, s); });
}

void Daemon::publish() {
  snapshot_due_ = false;
  service_.status(service_status());
  if (exporter_) exporter_->publish(take_snapshot());
}

// After every batch of events: a state or address change shows in the next scrape at once.
void Daemon::after_events() {
  if (snapshot_due_ && node_) publish();
}

void Daemon::publish_every_second() {
  if (metrics_timer_ == 0) metrics_timer_ = loop_.allocate_timer_id();
  publish();
  loop_.set_timer(metrics_timer_, loop::monotonic_now() + std::chrono::seconds(1),
                  [this](core::Time) { publish_every_second(); });
}

void Daemon::start_watchdog() {
  const auto period = service_.watchdog_period();
  if (!period) return;
  if (watchdog_timer_ == 0) {
    watchdog_timer_ = loop_.allocate_timer_id();
    spdlog::info("systemd watchdog: notifying every {} ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(*period).count());
  }
  // From the loop itself: a stuck loop stops the pings and systemd restarts vipd.
  service_.watchdog();
  loop_.set_timer(watchdog_timer_, loop::monotonic_now() + *period,
                  [this](core::Time) { start_watchdog(); });
}

std::string Daemon::service_status() const {
  std::vector<core::State> states;
  for (std::size_t i = 0; i < node_->size(); ++i) {
    if (node_->active(i)) states.push_back(node_->instance(i).core.state());
  }
  return status_summary(states, dataplane_ ? "xdp" : "raw-socket");
}

void Daemon::log_statistics() {
  metrics::Snapshot snapshot = take_snapshot();
  if (dataplane_) read_kernel_counters(*dataplane_, snapshot);
  for (const std::string& line : metrics::statistics_lines(snapshot)) {
    log::write(log::Level::info, "statistics", {}, line);
  }
}

}  // namespace vipd::app
