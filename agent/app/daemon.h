// `vipd run`: the I/O shell around the node's orchestration. It opens the receive path (XDP or raw
// socket), the sender, netlink (VIPs, interface tracking), announcements, timers, signals and the
// status socket on one epoll loop, turns what happens into node inputs and carries out the node's
// commands. Decisions live in node::Node; this file only executes them.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/advert_receiver.h"
#include "app/firewall.h"
#include "app/reject_report.h"
#include "app/run_state.h"
#include "app/service_manager.h"
#include "app/status_socket.h"
#include "bpf/dataplane.h"
#include "config/plan.h"
#include "dns/peer_resolver.h"
#include "health/endpoint_watch.h"
#include "health/health_checker.h"
#include "health/notifier.h"
#include "loop/event_loop.h"
#include "metrics/exporter.h"
#include "metrics/snapshot.h"
#include "net/announcer.h"
#include "net/claim_listener.h"
#include "net/frame_sender.h"
#include "net/netlink.h"
#include "net/vrrp_socket.h"
#include "node/node.h"

namespace vipd::app {

// Exit code of a metrics address that cannot be bound: a configuration error, like check-config's.
inline constexpr int kExitBadMetricsAddress = 2;

class Daemon {
 public:
  // `argv`: the command line `run` was started with, read again on reload (flags stay as given;
  // the config file and the environment are read anew).
  Daemon(config::Plan plan, std::vector<std::string> argv);
  ~Daemon();
  // Blocks until SIGTERM/SIGINT; returns the process exit code.
  int run();

 private:
  // Per instance (node index), what the shell counts for metrics beside the node's own counters.
  struct InstanceCounters {
    std::map<metrics::TransitionKey, std::uint64_t> transitions;
    std::uint64_t become_master = 0;
    std::uint64_t release_master = 0;
    std::uint64_t priority_zero_sent = 0;
    std::uint8_t faults_seen = 0;  // core::FaultReason bits last seen, to label fault transitions
  };

  core::Status open_io();
  core::Status open_status_socket();
  // The metrics endpoint bound (before anything on the host changes), or why not.
  core::Status open_metrics();
  // The XDP/tc data plane attached and configured, or why not.
  core::Status open_dataplane();
  void open_firewall();
  void remove_stale_vips();

  // One input to the node, its commands carried out in order. Inputs that arise while carrying
  // them out (a VIP the host refused, a health check that answered at once) follow afterwards.
  void dispatch(const node::Input& input, core::Time now);
  void dispatch(const node::Input& input);
  void execute(const node::Command& command);
  void send_advert(const node::SendAdvert& send);
  // An advert as one frame to a rival's MAC (node::SendAdvert::to_mac).
  void send_contact(const node::SendAdvert& send, std::span<const std::uint8_t> message);
  void probe(const node::ProbeVips& probe);
  // The receive path accepts adverts from the node's peers and --allowed-sources.
  void apply_peers();
  void start_resolver();
  void on_peers_resolved(const dns::Round& round);
  void add_vips(std::size_t index);
  void remove_vips(std::size_t index);
  void add_addresses(std::size_t index, const std::vector<config::Vip>& vips);
  void remove_addresses(std::size_t index, const std::vector<config::Vip>& vips);
  void announce(const node::Announce& announce);
  void set_timer(const node::SetTimer& timer);
  void log(const node::Log& line);
  void flush_suppressed_logs();
  void flush_adverts();
  void update_watched_vips();

  void on_receiver_readable();
  // Rate-limited log lines about rejected packets, with counts (RejectReport).
  void report_rejects(core::Time now);
  void on_netlink_event(const net::NetlinkEvent& event);
  void resync_interface();
  void on_health(health::Health status, const std::string& detail);
  // The Kubernetes local-endpoint check: its verdicts take the health checker's path.
  core::Status start_endpoint_watch();
  void on_signal(int signo);
  void shutdown();
  std::string status_json() const;
  std::string answer(std::string_view request);

  // Metrics, readiness, statistics (app/daemon_metrics.cpp).
  void count(std::size_t index, const node::StateChanged& changed);
  void refresh_fault_bits();
  metrics::Snapshot take_snapshot() const;
  // The exporter reads the data plane's counters at scrape time from here on.
  void install_kernel_reader();
  void publish();
  void after_events();
  void publish_every_second();
  void start_watchdog();
  std::string service_status() const;
  void log_statistics();

  // Reload (app/daemon_reload.cpp).
  std::string reload(std::string_view origin);
  void on_plan_replaced(const std::vector<std::size_t>& created);
  std::array<std::optional<core::Expectation>, 256> expectations() const;
  // What an instance's adverts must look like, for the raw receive path and the kernel alike.
  core::Expectation expectation_for(const config::InstancePlan& instance) const;
  bpf::VridConfig vrid_config(const config::InstancePlan& instance) const;
  core::Status configure_vrid(std::size_t index);
  void record_attachments();
  // Every VIP the configuration may make us add, recorded when it is loaded (start, reload).
  void record_configured_vips();
  bool configured(const config::Vip& vip) const;
  std::vector<const config::InstancePlan*> active_instances() const;
  void forget_unconfigured_vips();

  config::Plan plan_;
  loop::EventLoop loop_;
  net::Netlink netlink_;
  net::VrrpSocket socket_;
  net::Announcer announcer_;
  net::FrameSender contact_frames_;
  net::ClaimListener claims_;  // the raw-socket path's ARP/NA watch
  StatusServer status_;
  std::unique_ptr<bpf::Dataplane> dataplane_;
  std::unique_ptr<AdvertReceiver> receiver_;
  std::unique_ptr<node::Node> node_;
  std::unique_ptr<health::HealthChecker> checker_;
  std::unique_ptr<k8s::EndpointWatch> endpoint_watch_;
  std::unique_ptr<health::Notifier> notifier_;
  std::unique_ptr<dns::PeerResolver> resolver_;
  std::vector<std::string> resolve_failures_;  // the last round's, logged when they change
  std::uint64_t contacts_sent_ = 0;
  std::uint64_t contact_errors_ = 0;
  VrrpFirewall firewall_;
  std::vector<std::string> argv_;
  std::unique_ptr<metrics::Exporter> exporter_;
  ServiceManager service_;
  RunStateFile run_state_;
  std::optional<RunState> previous_run_;    // a killed run's record, found at start
  std::vector<InstanceCounters> counters_;  // node index -> counters
  std::vector<core::IpAddress> present_;    // addresses on the interface, from netlink
  std::vector<std::uint8_t> kernel_vrids_;  // VRIDs configured in the XDP program
  std::uint64_t metrics_timer_ = 0;
  std::uint64_t watchdog_timer_ = 0;
  bool snapshot_due_ = false;
  bool reload_applied_ = false;
  std::string reload_note_;               // the node's reload line, for `vipd reload`
  std::vector<std::uint64_t> timer_ids_;  // node::TimerId::index() -> event-loop timer id
  std::uint64_t log_flush_timer_ = 0;
  std::deque<node::Input> follow_ups_;
  bool dispatching_ = false;
  core::Time started_{0};
  // One line per reject reason at most every 30 s (the first at once): 2 a minute, with counts.
  RejectReport reject_report_{std::chrono::seconds(30)};
  core::Time last_reject_poll_{0};
  bool stopping_ = false;
};

}  // namespace vipd::app
