// `vipd run`: wires the pure protocol core to the host — the receive path (XDP or raw socket), the
// sender, netlink (VIPs, interface tracking), announcements, timers, signals and the status socket
// — all on one epoll loop.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/advert_receiver.h"
#include "app/event_loop.h"
#include "app/firewall.h"
#include "app/status_socket.h"
#include "bpf/dataplane.h"
#include "config/plan.h"
#include "health/health_checker.h"
#include "health/notifier.h"
#include "k8s/endpoint_watch.h"
#include "net/announcer.h"
#include "net/netlink.h"
#include "net/vrrp_socket.h"
#include "vipd/core/instance.h"

namespace vipd::app {

class Daemon {
 public:
  explicit Daemon(config::Plan plan);
  ~Daemon();
  // Blocks until SIGTERM/SIGINT; returns the process exit code.
  int run();

 private:
  struct Runtime {
    Runtime(config::InstancePlan instance_plan, core::Instance core_instance)
        : plan(std::move(instance_plan)), instance(std::move(core_instance)) {}
    config::InstancePlan plan;
    core::Instance instance;
    std::array<std::uint64_t, 4> timers{};  // protocol, GARP repeat, GARP refresh, preempt window
    std::vector<core::IpAddress> vip_addresses;
    bool holds_vips = false;
    core::Time last_fed{0};  // receive time of the newest advert fed to the core
    core::Time state_since{0};
    std::uint64_t transitions = 0;
    std::uint64_t adverts_sent = 0;
    std::uint64_t adverts_heard = 0;
    core::Time last_lower_announce{std::numeric_limits<std::int64_t>::min() / 2};
    core::IpAddress last_lower_peer;
    core::Time last_lower_heard{std::numeric_limits<std::int64_t>::min() / 2};
  };

  std::string open_io();
  // Empty string when the XDP/tc data plane is attached and configured, else the cause.
  std::string open_dataplane();
  void on_vip_conflict(const vipd_conflict_event& event);
  void on_health(health::Health status, const std::string& detail);
  // Kubernetes local-endpoint check (issue 14): the watcher feeds on_health like the checker.
  std::string start_endpoint_watch();
  void apply_check_weight(health::Health status);
  void open_firewall();
  std::string update_watched_vips();
  void remove_stale_vips();
  void start_instances();
  void stop_instances();
  void shutdown();

  void execute(std::size_t index, const core::ActionList& actions, core::Time now);
  void send_advert(Runtime& runtime, std::uint8_t priority);
  void add_vips(Runtime& runtime);
  void remove_vips(Runtime& runtime);
  // Gratuitous ARP / NA bursts: on becoming master, the repeat after garp delay, periodic refresh,
  // and after hearing a lower priority (someone else may have announced the VIPs).
  enum class Burst { BecameMaster, Repeat, Refresh, LowerPriorityHeard };
  void announce(std::size_t index, Burst burst);
  void on_state_change(std::size_t index, const core::StateChange& change, core::Time now);

  void on_instance_timer(std::size_t index, core::Time now);
  void on_advert(const HeardAdvert& heard);
  // Drains pending events and feeds the kernel's newer record, so an input that changes how adverts
  // are judged (priority, faults, start, stop, the end of preempt_delay) sees them first.
  void catch_up(std::size_t index);
  // Whether a lower-priority advert heard as master calls for re-announcing the VIPs.
  bool lower_priority_episode(Runtime& runtime, const core::IpAddress& peer, core::Time now);
  void on_receiver_readable();
  void on_netlink_event(const net::NetlinkEvent& event);
  void resync_interface();
  void set_fault(core::FaultReason reason, bool raised);
  void on_signal(int signo);
  void log_rejects();
  std::string status_json() const;

  std::uint64_t timer_id(std::size_t index, int kind) const {
    return runtimes_[index].timers[static_cast<std::size_t>(kind)];
  }

  config::Plan plan_;
  EventLoop loop_;
  net::Netlink netlink_;
  net::VrrpSocket socket_;
  net::Announcer announcer_;
  StatusServer status_;
  std::unique_ptr<bpf::Dataplane> dataplane_;
  std::unique_ptr<AdvertReceiver> receiver_;
  std::unique_ptr<health::HealthChecker> checker_;
  std::unique_ptr<k8s::EndpointWatch> endpoint_watch_;
  std::unique_ptr<health::Notifier> notifier_;
  VrrpFirewall firewall_;
  bool instances_started_ = false;
  std::vector<Runtime> runtimes_;
  std::array<int, 256> by_vrid_{};  // VRID -> index + 1 (0: none)
  std::uint8_t faults_ = 0;
  core::Time started_{0};
  core::Time last_reject_log_{0};
  bool stopping_ = false;
};

}  // namespace vipd::app
