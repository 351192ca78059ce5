// `vipd run`: the I/O shell around the node's orchestration. It opens the receive path (XDP or raw
// socket), the sender, netlink (VIPs, interface tracking), announcements, timers, signals and the
// status socket on one epoll loop, turns what happens into node inputs and carries out the node's
// commands. Decisions live in node::Node; this file only executes them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "app/advert_receiver.h"
#include "app/firewall.h"
#include "app/reject_report.h"
#include "app/status_socket.h"
#include "bpf/dataplane.h"
#include "config/plan.h"
#include "dns/peer_resolver.h"
#include "health/endpoint_watch.h"
#include "health/health_checker.h"
#include "health/notifier.h"
#include "loop/event_loop.h"
#include "net/announcer.h"
#include "net/claim_listener.h"
#include "net/frame_sender.h"
#include "net/netlink.h"
#include "net/vrrp_socket.h"
#include "node/node.h"

namespace vipd::app {

class Daemon {
 public:
  explicit Daemon(config::Plan plan);
  ~Daemon();
  // Blocks until SIGTERM/SIGINT; returns the process exit code.
  int run();

 private:
  core::Status open_io();
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
  void announce(const node::Announce& announce);
  void set_timer(const node::SetTimer& timer);
  void log(const node::Log& line) const;
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
  std::string start_endpoint_watch();
  void on_signal(int signo);
  void shutdown();
  std::string status_json() const;

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
