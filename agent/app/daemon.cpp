#include "app/daemon.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/if_ether.h>

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/raw_receiver.h"
#include "app/scheduling.h"
#include "app/version.h"
#include "app/xdp_receiver.h"
#include "log/log.h"
#include "metrics/listen_address.h"
#include "net/ip_frame.h"
#include "node/wording.h"
#include "vipd/core/overloaded.h"

namespace vipd::app {
namespace {

double to_ms(core::Time t) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(t).count()) /
         1000.0;
}

bpf::XdpMode to_bpf(config::XdpMode mode) {
  switch (mode) {
    case config::XdpMode::Native:
      return bpf::XdpMode::Native;
    case config::XdpMode::Generic:
      return bpf::XdpMode::Generic;
    case config::XdpMode::Auto:
      break;
  }
  return bpf::XdpMode::Auto;
}

log::Level to_log(node::Level level) {
  switch (level) {
    case node::Level::Debug:
      return log::Level::debug;
    case node::Level::Info:
      return log::Level::info;
    case node::Level::Warn:
      return log::Level::warn;
    case node::Level::Error:
      return log::Level::error;
  }
  return log::Level::info;
}

// libbpf's own chatter (e.g. "Cannot find specified filter chain" while probing for a stale tc
// filter) is expected noise: the loader reports real failures itself, so it goes to debug.
int libbpf_to_debug_log(enum libbpf_print_level, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text(line);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  spdlog::debug("libbpf: {}", text);
  return 0;
}

// Who this instance heard, and how each is known: a peer of the node (configured, DNS, learned)
// or only by multicast.
nlohmann::json peers_heard_json(const node::Node& node, const node::InstanceState& instance,
                                core::Time now) {
  nlohmann::json heard = nlohmann::json::array();
  for (const node::PeerHeard& peer : instance.peers_heard) {
    const node::Peer* known = node.peers().find(peer.address);
    heard.push_back({{"address", peer.address.to_string()},
                     {"via", known ? node::to_string(known->source) : "multicast"},
                     {"last_heard_ms_ago", to_ms(now - peer.last)}});
  }
  return heard;
}

nlohmann::json conflict_json(const node::InstanceState& instance, core::Time now) {
  if (!instance.conflict) return nullptr;
  const node::Conflict& conflict = *instance.conflict;
  return {{"vip", conflict.vip.to_string()},
          {"mac", core::to_string(conflict.mac)},
          {"rival", conflict.rival ? conflict.rival->to_string() : ""},
          {"kind", node::to_string(conflict.kind)},
          {"since_ms_ago", to_ms(now - conflict.since)},
          {"last_ms_ago", to_ms(now - conflict.at)}};
}

}  // namespace

Daemon::Daemon(config::Plan plan, std::vector<std::string> command_line)
    : plan_(std::move(plan)),
      firewall_([](const Argv& argv) { return proc::run_and_wait(argv, std::chrono::seconds(5)); }),
      argv_(std::move(command_line)),
      run_state_(plan_.state_file) {}

Daemon::~Daemon() = default;

int Daemon::run() {
  started_ = loop::monotonic_now();
  // Signals are blocked (signalfd) before the metrics exposer starts its threads, which inherit
  // the mask: every signal reaches the loop.
  if (core::Status status = loop_.init({SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}); !status) {
    spdlog::error("cannot start the event loop: {}", status.message());
    return 1;
  }
  loop_.on_signal([this](int signo) { on_signal(signo); });
  apply_scheduling(plan_.scheduling);
  // Neither touches the host: a second vipd on this interface, or a metrics port in use, stops
  // here with nothing changed.
  if (core::Status status = open_status_socket(); !status) {
    spdlog::error("{}", status.message());
    return 1;
  }
  if (core::Status status = open_metrics(); !status) {
    spdlog::error("{}", status.message());
    return kExitBadMetricsAddress;
  }
  // What a killed run recorded, read before this run's record replaces it (remove_stale_vips).
  if (auto previous = read_run_state(plan_.state_file); previous)
    previous_run_ = std::move(*previous);
  run_state_.state().interface = plan_.interface;
  run_state_.state().pid = static_cast<int>(getpid());
  run_state_.state().netns = current_netns();
  run_state_.save();
  record_configured_vips();
  if (core::Status status = open_io(); !status) {
    spdlog::error("{}", status.message());
    shutdown();
    return 1;
  }
  record_attachments();
  const node::Level verbosity =
      spdlog::should_log(spdlog::level::debug) ? node::Level::Debug : node::Level::Info;
  node_ = std::make_unique<node::Node>(plan_, *receiver_, verbosity);
  apply_peers();
  start_resolver();
  timer_ids_.resize(node_->size() * node::kTimerKinds);
  for (std::uint64_t& id : timer_ids_) id = loop_.allocate_timer_id();
  counters_.resize(node_->size());
  log_flush_timer_ = loop_.allocate_timer_id();

  remove_stale_vips();
  if (!plan_.notify_script.empty())
    notifier_ =
        std::make_unique<health::Notifier>(loop_, std::vector<std::string>{plan_.notify_script});
  if (plan_.health.kind == config::HealthPlan::Kind::ServiceEndpoints) {
    if (const core::Status status = start_endpoint_watch(); !status) {
      spdlog::error("cannot start the Kubernetes endpoint check: {}", status.message());
      shutdown();
      return 1;
    }
  } else if (plan_.health.kind != config::HealthPlan::Kind::None) {
    checker_ = std::make_unique<health::HealthChecker>(
        loop_, plan_.health,
        [this](health::Health status, const std::string& detail) { on_health(status, detail); });
    checker_->start();
  }
  resync_interface();
  dispatch(node::Start{});
  flush_suppressed_logs();
  // READY=1 first: the instances run on the attached receive path now; STATUS= and WATCHDOG=1
  // follow from the loop.
  service_.ready(service_status());
  install_kernel_reader();
  publish_every_second();
  start_watchdog();
  const int result = loop_.run();
  shutdown();
  if (result != 0) {
    spdlog::error("event loop failed");
    return 1;
  }
  spdlog::info("Stopped vipd");
  return 0;
}

core::Status Daemon::open_status_socket() {
  // First: the status socket's name is unique per network namespace and interface, so a second
  // vipd on the same interface stops here, before it could replace the first one's XDP program.
  if (core::Status status = status_.listen(plan_.status_socket); !status) return status;
  return status_.attach(loop_, [this](std::string_view request) { return answer(request); });
}

core::Status Daemon::open_metrics() {
  const auto address = metrics::parse_listen_address(plan_.metrics_address);
  if (!address) return core::Error{address.message()};
  if (!address.value()) {
    spdlog::info("Metrics disabled (empty --metrics-address / VIPD_METRICS_ADDRESS)");
    return {};
  }
  auto exporter = metrics::Exporter::start(**address);
  if (!exporter) return core::Error{exporter.message()};
  exporter_ = std::move(*exporter);
  const metrics::ListenAddress& bound = exporter_->address();
  if (bound.host.empty()) {
    spdlog::info(
        "Serving Prometheus metrics on port {} of every address (http://<address>:{}/metrics)",
        bound.port, bound.port);
  } else {
    spdlog::info("Serving Prometheus metrics on http://{}/metrics", bound.text());
  }
  return {};
}

core::Status Daemon::open_io() {
  if (core::Status status = netlink_.open(); !status) return status;
  if (core::Status status = netlink_.subscribe_events(
          [this](const net::NetlinkEvent& event) { on_netlink_event(event); });
      !status) {
    return status;
  }
  if (core::Status status = loop_.add_fd(netlink_.event_fd(), EPOLLIN,
                                         [this](std::uint32_t) { netlink_.read_events(); });
      !status) {
    return status;
  }
  bool xdp = false;
  if (!plan_.use_bpf) {
    spdlog::info(
        "eBPF disabled (--no-bpf): receiving adverts on a raw socket; port-probe counters "
        "unavailable");
  } else if (core::Status status = open_dataplane(); !status) {
    dataplane_.reset();
    spdlog::warn(
        "eBPF data plane unavailable: {}; falling back to a raw VRRP socket (port-probe counters "
        "unavailable)",
        status.message());
  } else {
    xdp = true;
  }
  if (core::Status status = socket_.open(plan_.interface, plan_.ifindex, plan_.source, !xdp);
      !status) {
    return core::Error{"cannot open the VRRP socket on " + plan_.interface + ": " +
                       status.message()};
  }
  if (xdp) {
    std::vector<std::uint8_t> vrids;
    for (const config::InstancePlan& instance : plan_.instances)
      vrids.push_back(instance.core.vrid);
    receiver_ = std::make_unique<XdpReceiver>(*dataplane_, vrids);
  } else {
    if (core::Status status = claims_.open(plan_.interface, plan_.ifindex); !status) {
      return core::Error{"cannot open the ARP/NA listener on " + plan_.interface + ": " +
                         status.message()};
    }
    receiver_ = std::make_unique<RawSocketReceiver>(socket_, claims_, expectations(),
                                                    plan_.transport.restrict_sources, plan_.mac);
  }
  open_firewall();
  for (const int fd : receiver_->fds()) {
    if (core::Status status =
            loop_.add_fd(fd, EPOLLIN, [this](std::uint32_t) { on_receiver_readable(); });
        !status) {
      return status;
    }
  }
  if (core::Status status = announcer_.open(plan_.interface, plan_.ifindex, plan_.mac); !status) {
    return core::Error{"cannot open the announcement socket: " + status.message()};
  }
  if (core::Status status = contact_frames_.open(plan_.interface, plan_.ifindex); !status) {
    return core::Error{"cannot open the packet socket for split-brain contacts: " +
                       status.message()};
  }
  loop_.on_idle([this] {
    flush_adverts();
    after_events();
  });
  return {};
}

core::Status Daemon::open_dataplane() {
  libbpf_set_print(libbpf_to_debug_log);
  bpf::Options options;
  options.interface = plan_.interface;
  options.xdp_mode = to_bpf(plan_.xdp_mode);
  options.bpffs_root = plan_.bpffs_root;
  auto opened = bpf::Dataplane::open(options);
  if (!opened) return opened.status();
  dataplane_ = std::move(opened.value());
  if (core::Status status = dataplane_->attach(); !status) return status;

  core::Time longest_interval{0};
  for (const config::InstancePlan& instance : plan_.instances) {
    longest_interval = std::max(longest_interval, instance.core.advert_interval);
    const bpf::VridConfig vrid = vrid_config(instance);
    if (core::Status status = dataplane_->set_vrid_config(vrid); !status) return status;
    kernel_vrids_.push_back(vrid.vrid);
  }
  // A master that went quiet for two intervals and came back with an identical advert must still
  // reach us: the record is then stale and the kernel re-emits it.
  if (core::Status status = dataplane_->set_global_config(
          {2 * longest_interval, plan_.xdp_drop_invalid, plan_.transport.restrict_sources});
      !status) {
    return status;
  }
  if (core::Status status = dataplane_->set_peers({}); !status) return status;
  if (core::Status status = dataplane_->set_vips({}); !status) return status;
  const std::array<core::MacAddress, 1> macs = {plan_.mac};
  if (core::Status status = dataplane_->set_own_macs(macs); !status) return status;
  if (plan_.health.kind == config::HealthPlan::Kind::TcpPort) {
    const std::array<std::uint16_t, 1> ports = {plan_.health.port};
    if (core::Status status = dataplane_->set_monitored_ports(ports); !status) return status;
  }

  const bpf::AttachState& state = dataplane_->state();
  spdlog::info("eBPF data plane attached to {}: XDP {} (prog id {}){}, tc probe counters {}; {}",
               plan_.interface, state.xdp_mode == bpf::XdpMode::Native ? "native" : "generic",
               state.xdp_prog_id, state.replaced_stale_xdp ? ", replaced a stale program" : "",
               state.tc_attached ? "on" : "off",
               state.pinned ? "maps pinned at " + state.pin_dir : "no pins: " + state.pin_note);
  return {};
}

void Daemon::open_firewall() {
  const config::FirewallPlan& firewall = plan_.firewall;
  if (firewall.iptables_chain.empty() && !firewall.nftables) return;
  if (dataplane_) {
    spdlog::info(
        "OPENSHIFT_HA_IPTABLES_CHAIN/OPENSHIFT_HA_NFTABLES_RULE: no firewall rule needed, XDP sees "
        "adverts before netfilter");
    return;
  }
  firewall_.open(firewall, plan_.interface, plan_.source.is_v4());
}

void Daemon::remove_stale_vips() {
  // What a killed run recorded (its configuration may have listed other VIPs than ours) ...
  if (const auto& previous = previous_run_;
      previous && previous->netns == current_netns() && previous->interface == plan_.interface) {
    const std::vector<net::AddressEntry> present = netlink_.addresses(plan_.ifindex);
    for (const config::Vip& vip : previous->vips) {
      if (std::none_of(present.begin(), present.end(), [&](const net::AddressEntry& entry) {
            return entry.address == vip.address;
          }))
        continue;
      spdlog::warn("removing stale VIP {}/{} from {} (recorded by an earlier run in {})",
                   vip.address.to_string(), vip.prefix, plan_.interface, plan_.state_file);
      if (core::Status status = netlink_.remove_address(plan_.ifindex, vip.address, vip.prefix);
          !status) {
        spdlog::error("{}", status.message());
      }
    }
  }
  // ... and any of our own VIPs still on the interface.
  for (const net::AddressEntry& entry : netlink_.addresses(plan_.ifindex)) {
    for (const config::InstancePlan& instance : plan_.instances) {
      const auto& vips = instance.vips;
      if (std::none_of(vips.begin(), vips.end(),
                       [&](const config::Vip& vip) { return vip.address == entry.address; })) {
        continue;
      }
      spdlog::warn("({}) removing stale VIP {}/{} from {} (left by an earlier run)", instance.name,
                   entry.address.to_string(), entry.prefix, plan_.interface);
      if (core::Status status = netlink_.remove_address(plan_.ifindex, entry.address, entry.prefix);
          !status) {
        spdlog::error("({}) {}", instance.name, status.message());
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The node's inputs and commands

void Daemon::dispatch(const node::Input& input) {
  dispatch(input, loop::monotonic_now());
}

void Daemon::dispatch(const node::Input& input, core::Time now) {
  if (dispatching_) {
    follow_ups_.push_back(input);
    return;
  }
  dispatching_ = true;
  for (const node::Command& command : node_->handle(now, input)) execute(command);
  while (!follow_ups_.empty()) {
    const node::Input next = std::move(follow_ups_.front());
    follow_ups_.pop_front();
    for (const node::Command& command : node_->handle(loop::monotonic_now(), next)) {
      execute(command);
    }
  }
  dispatching_ = false;
  refresh_fault_bits();
}

void Daemon::execute(const node::Command& command) {
  std::visit(
      core::Overloaded{
          [&](const node::SendAdvert& send) { send_advert(send); },
          [&](const node::AddVips& add) { add_vips(add.instance); },
          [&](const node::RemoveVips& remove) { remove_vips(remove.instance); },
          [&](const node::Announce& burst) { announce(burst); },
          [&](const node::SetTimer& timer) { set_timer(timer); },
          [&](const node::StateChanged& changed) { count(changed.instance, changed); },
          [&](const node::Notify& notify) {
            if (!notifier_) return;
            notifier_->notify(node_->instance(notify.instance).plan.name,
                              std::string(core::to_string(notify.state)), notify.priority);
          },
          [&](const node::CheckNow& check) {
            if (checker_) checker_->on_refused(check.port, check.refusals);
          },
          [&](const node::Log& line) { log(line); },
          [&](const node::ProbeVips& vips) { probe(vips); },
          [&](const node::PeersChanged&) { apply_peers(); },
          [&](const node::OpenUnicastWindow& window) {
            if (core::Status status = receiver_->set_unicast_window(window.vrid, window.until);
                !status) {
              spdlog::warn("VRID {}: cannot open the unicast window: {}", window.vrid,
                           status.message());
            }
          },
          [&](const node::AddAddresses& add) { add_addresses(add.instance, add.vips); },
          [&](const node::RemoveAddresses& remove) {
            remove_addresses(remove.instance, remove.vips);
          },
          [&](const node::PlanReplaced& replaced) { on_plan_replaced(replaced.created); },
      },
      command);
}

void Daemon::send_advert(const node::SendAdvert& send) {
  const config::InstancePlan& instance = node_->instance(send.instance).plan;
  if (send.priority == 0) ++counters_[send.instance].priority_zero_sent;
  core::AdvertSpec spec;
  spec.version = instance.core.version;
  spec.vrid = instance.core.vrid;
  spec.priority = send.priority;
  spec.interval_cs = core::to_centiseconds(instance.core.advert_interval);
  spec.auth_type = instance.auth_type;
  spec.auth_key = instance.auth_key;
  std::array<core::IpAddress, 255> addresses;
  const std::size_t count = std::min(instance.vips.size(), addresses.size());
  for (std::size_t i = 0; i < count; ++i) addresses[i] = instance.vips[i].address;
  spec.addresses = std::span(addresses.data(), count);
  std::array<std::uint8_t, core::kMaxAdvertSize> buffer;
  const std::size_t size = core::encode_advert(spec, plan_.source, send.destination, buffer);
  if (size == 0) {
    spdlog::error("({}) cannot encode advert", instance.name);
    return;
  }
  if (send.to_mac) return send_contact(send, std::span(buffer.data(), size));
  socket_.queue(std::span(buffer.data(), size), send.destination);
}

void Daemon::send_contact(const node::SendAdvert& send, std::span<const std::uint8_t> message) {
  std::array<std::uint8_t, net::kMaxVrrpPacket> packet;
  const std::size_t size = net::build_vrrp_packet(plan_.source, send.destination, message, packet);
  const std::uint16_t ethertype = plan_.source.is_v4() ? ETH_P_IP : ETH_P_IPV6;
  if (size != 0 && contact_frames_.send(*send.to_mac, ethertype, std::span(packet.data(), size))) {
    ++contacts_sent_;
    return;
  }
  ++contact_errors_;
  log::write(log::Level::warn, "split_brain", node_->instance(send.instance).plan.name,
             "cannot send the advert to " + core::to_string(*send.to_mac) + ": " +
                 (size == 0 ? std::string("cannot build the packet") : contact_frames_.error()),
             {});
}

void Daemon::probe(const node::ProbeVips& probe) {
  const config::InstancePlan& instance = node_->instance(probe.instance).plan;
  std::vector<core::IpAddress> addresses;
  for (const config::Vip& vip : instance.vips) addresses.push_back(vip.address);
  if (const std::size_t failed = announcer_.probe(addresses); failed > 0) {
    spdlog::warn("({}) {} of the conflict probes failed: {}", instance.name, failed,
                 announcer_.last_error());
  }
}

void Daemon::apply_peers() {
  std::vector<core::AcceptedSource> sources;
  for (const node::Peer& peer : node_->peers().peers()) {
    // Configured and resolved peers may be routed (TTL below 255); learned ones reached us on the
    // link, their adverts passed the TTL check already.
    sources.push_back({peer.address, peer.source != node::PeerSource::Learned});
  }
  for (const core::IpAddress& address : plan_.transport.allowed_sources) {
    sources.push_back({address, false});
  }
  if (core::Status status = receiver_->set_sources(sources); !status) {
    spdlog::error("cannot update the accepted advert sources: {}", status.message());
  }
}

void Daemon::start_resolver() {
  if (plan_.transport.peer_names.empty()) return;
  resolver_ = std::make_unique<dns::PeerResolver>(
      loop_, plan_.transport.peer_names, plan_.source.family(), plan_.transport.resolve_interval,
      [this](const dns::Round& round) { on_peers_resolved(round); });
  if (core::Status status = resolver_->start(); !status) {
    spdlog::warn("unicast peer names will not be resolved: {}", status.message());
    resolver_.reset();
  }
}

void Daemon::on_peers_resolved(const dns::Round& round) {
  if (round.failures != resolve_failures_) {
    for (const std::string& failure : round.failures) {
      log::write(log::Level::warn, "peers", {},
                 "cannot resolve unicast peer " + failure + "; retrying", {});
    }
    if (round.failures.empty() && !resolve_failures_.empty()) {
      log::write(log::Level::info, "peers", {}, "unicast peer names resolve again", {});
    }
    resolve_failures_ = round.failures;
  }
  // A headless Service lists this node too.
  std::vector<core::IpAddress> own;
  for (const net::AddressEntry& entry : netlink_.addresses(0)) own.push_back(entry.address);
  std::vector<core::IpAddress> peers;
  for (const core::IpAddress& address : round.addresses) {
    if (address == plan_.source || std::find(own.begin(), own.end(), address) != own.end())
      continue;
    peers.push_back(address);
  }
  dispatch(node::PeersResolved{peers});
}

void Daemon::flush_adverts() {
  if (socket_.flush() > 0) spdlog::warn("sending adverts failed: {}", socket_.last_error());
}

void Daemon::add_vips(std::size_t index) {
  // The new master's advert goes on the wire before the (slower) address change.
  flush_adverts();
  add_addresses(index, node_->instance(index).plan.vips);
}

void Daemon::add_addresses(std::size_t index, const std::vector<config::Vip>& vips) {
  flush_adverts();
  // Recorded first: a crash in between must not leave an address `vipd cleanup` does not know.
  // Configured VIPs were recorded when the configuration was loaded: no file is written here.
  run_state_.add_vips(vips);
  std::string failure;
  for (const config::Vip& vip : vips) {
    if (core::Status status = netlink_.add_address(plan_.ifindex, vip.address, vip.prefix);
        !status && failure.empty()) {
      failure = status.message();
    }
  }
  update_watched_vips();
  if (!failure.empty()) {
    dispatch(node::VipAddFailed{index, failure});
  } else {
    dispatch(node::VipsAdded{index});
  }
}

void Daemon::remove_vips(std::size_t index) {
  // A priority-0 advert goes out before the address removal, which can take the kernel ~10 ms:
  // backups wait only Skew_Time after it, and holding the VIP a few ms longer is harmless.
  remove_addresses(index, node_->instance(index).plan.vips);
}

void Daemon::remove_addresses(std::size_t index, const std::vector<config::Vip>& vips) {
  flush_adverts();
  update_watched_vips();
  const config::InstancePlan& instance = node_->instance(index).plan;
  std::vector<config::Vip> removed;
  for (const config::Vip& vip : vips) {
    if (core::Status status = netlink_.remove_address(plan_.ifindex, vip.address, vip.prefix);
        !status) {
      spdlog::error("({}) cannot remove VIP: {}", instance.name, status.message());
      continue;
    }
    // A VIP the configuration still lists stays recorded: we may add it again.
    if (!configured(vip)) removed.push_back(vip);
  }
  run_state_.remove_vips(removed);
}

// The state file is written here, when a configuration is loaded, and not on the takeover path:
// renaming a file over another on ext4 (a container's overlay on it, or a /run that is not a
// tmpfs) flushes its data first, ~0.5 ms measured between the timer and the address add.
void Daemon::record_configured_vips() {
  // A reload's retired instances are not listed: their VIPs were recorded when they were
  // configured, and stay recorded until removed.
  std::vector<config::Vip> vips;
  for (const config::InstancePlan* instance : active_instances())
    vips.insert(vips.end(), instance->vips.begin(), instance->vips.end());
  run_state_.add_vips(vips);
}

bool Daemon::configured(const config::Vip& vip) const {
  for (const config::InstancePlan* instance : active_instances()) {
    if (std::find(instance->vips.begin(), instance->vips.end(), vip) != instance->vips.end())
      return true;
  }
  return false;
}

void Daemon::announce(const node::Announce& burst) {
  const config::InstancePlan& instance = node_->instance(burst.instance).plan;
  std::vector<core::IpAddress> addresses;
  for (const config::Vip& vip : instance.vips) addresses.push_back(vip.address);
  std::size_t failed = 0;
  for (int i = 0; i < burst.repeat; ++i) failed += announcer_.announce(addresses);
  if (failed > 0) {
    spdlog::warn("({}) {} of the announcements failed: {}", instance.name, failed,
                 announcer_.last_error());
  }
}

void Daemon::set_timer(const node::SetTimer& timer) {
  const std::uint64_t id = timer_ids_[timer.timer.index()];
  if (timer.at == core::kNever) {
    loop_.cancel_timer(id);
    return;
  }
  loop_.set_timer(id, timer.at, [this, expired = timer.timer](core::Time now) {
    dispatch(node::TimerExpired{expired}, now);
  });
}

// The "suppressed N similar messages" summary of a flood that stopped must not wait for the next
// warning: once a second.
void Daemon::flush_suppressed_logs() {
  log::flush_suppressed();
  // The raw-socket path counts in memory: look every second, so the count of a flood that stopped
  // is reported without waiting for another packet. The XDP path reads kernel maps: once per
  // reporting interval.
  const core::Time now = loop::monotonic_now();
  if (!dataplane_ || now - last_reject_poll_ >= reject_report_.interval()) report_rejects(now);
  loop_.set_timer(log_flush_timer_, loop::monotonic_now() + std::chrono::seconds(1),
                  [this](core::Time) { flush_suppressed_logs(); });
}

void Daemon::log(const node::Log& line) {
  if (line.event == "reload" || line.event == "reload_refused") reload_note_ = line.text;
  const std::string_view instance = line.instance == node::kNoInstance
                                        ? std::string_view()
                                        : node_->instance(line.instance).plan.name;
  std::array<log::Field, 8> fields;
  const std::size_t count = std::min(line.fields.size(), fields.size());
  for (std::size_t i = 0; i < count; ++i) fields[i] = {line.fields[i].key, line.fields[i].value};
  log::write(to_log(line.level), line.event, instance, line.text, std::span(fields.data(), count));
}

void Daemon::update_watched_vips() {
  // Only VIPs we hold can conflict: a backup hearing the master's gratuitous ARP is normal.
  std::vector<core::HeldVip> vips;
  for (std::size_t i = 0; i < node_->size(); ++i) {
    const node::InstanceState& instance = node_->instance(i);
    if (!instance.holds_vips) continue;
    for (const config::Vip& vip : instance.plan.vips)
      vips.push_back({vip.address, instance.plan.core.vrid});
  }
  if (core::Status status = receiver_->set_held_vips(vips); !status)
    spdlog::warn("ARP watch: {}", status.message());
}

// ---------------------------------------------------------------------------------------------
// Events from the host

void Daemon::on_receiver_readable() {
  dispatch(node::AdvertsPending{});
  if (!dataplane_) report_rejects(loop::monotonic_now());
}

void Daemon::report_rejects(core::Time now) {
  if (!receiver_) return;
  last_reject_poll_ = now;
  for (const RejectReport::Line& line : reject_report_.update(now, receiver_->rejects())) {
    const auto source = receiver_->last_reject_source(line.reason);
    std::string text = node::reject_text(plan_.interface, line.reason, source);
    const std::string count = std::to_string(line.count);
    if (line.span > core::Time{0}) {
      text += " (" + count + " rejected for this reason in the last " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(line.span).count()) +
              " s)";
    } else if (line.count > 1) {
      text += " (" + count + " rejected for this reason so far)";
    }
    const std::string from = source ? source->to_string() : std::string();
    log::write(log::Level::warn, "advert_rejected", {}, text,
               {{"reason", core::reason_label(line.reason)}, {"count", count}, {"source", from}});
  }
}

void Daemon::on_netlink_event(const net::NetlinkEvent& event) {
  using Kind = net::NetlinkEvent::Kind;
  switch (event.kind) {
    case Kind::Resync:
      return resync_interface();
    case Kind::LinkChanged:
    case Kind::LinkRemoved:
      if (event.link.ifindex != plan_.ifindex) return;
      return dispatch(node::FaultChanged{core::FaultReason::InterfaceDown,
                                         event.kind == Kind::LinkRemoved || !event.link.usable(),
                                         std::nullopt});
    case Kind::AddressAdded:
      if (event.address.ifindex != plan_.ifindex) return;
      if (std::find(present_.begin(), present_.end(), event.address.address) == present_.end()) {
        present_.push_back(event.address.address);
        snapshot_due_ = true;
      }
      if (event.address.address == plan_.source) {
        dispatch(node::FaultChanged{core::FaultReason::AddressMissing, false, std::nullopt});
      }
      return;
    case Kind::AddressRemoved:
      if (event.address.ifindex != plan_.ifindex) return;
      if (std::erase(present_, event.address.address) > 0) snapshot_due_ = true;
      if (event.address.address == plan_.source) {
        return dispatch(node::FaultChanged{core::FaultReason::AddressMissing, true, std::nullopt});
      }
      return dispatch(node::VipMissing{event.address.address});
  }
}

void Daemon::resync_interface() {
  const auto link = netlink_.link(plan_.ifindex);
  dispatch(
      node::FaultChanged{core::FaultReason::InterfaceDown, !link || !link->usable(), std::nullopt});
  bool has_source = false;
  present_.clear();
  for (const net::AddressEntry& entry : netlink_.addresses(plan_.ifindex)) {
    if (entry.address == plan_.source) has_source = true;
    present_.push_back(entry.address);
  }
  snapshot_due_ = true;
  dispatch(node::FaultChanged{core::FaultReason::AddressMissing, !has_source, std::nullopt});
}

void Daemon::on_health(health::Health status, const std::string& detail) {
  const bool failed = status == health::Health::Failed;
  if (failed && dataplane_ && plan_.health.kind == config::HealthPlan::Kind::TcpPort) {
    if (const auto stats = dataplane_->port_stats(plan_.health.port)) {
      spdlog::info("{}: the kernel saw {} SYNs and {} refused connections (RST) on port {} ({})",
                   plan_.health.name, stats.value().syn_rx, stats.value().rst_tx, plan_.health.port,
                   detail);
    }
  }
  dispatch(node::CheckResult{!failed, detail});
}

core::Status Daemon::start_endpoint_watch() {
  endpoint_watch_ = std::make_unique<k8s::EndpointWatch>(
      loop_, plan_.health, "vipd/" + version_short(),
      [this](k8s::Verdict verdict, const std::string& detail) {
        on_health(
            verdict == k8s::Verdict::Healthy ? health::Health::Healthy : health::Health::Failed,
            detail);
      });
  return endpoint_watch_->start();
}

void Daemon::on_signal(int signo) {
  // None of these ever stops the daemon (keepalived's operators send them by habit).
  if (signo == SIGHUP) {
    if (!stopping_) reload("SIGHUP");
    return;
  }
  if (signo == SIGUSR1) {
    spdlog::info("SIGUSR1 received: writing the state dump");
    dispatch(node::DumpState{});
    return;
  }
  if (signo == SIGUSR2) {
    spdlog::info("SIGUSR2 received: writing statistics");
    log_statistics();
    return;
  }
  if (stopping_) return;
  spdlog::info("Stopping vipd ({} received)", signo == SIGTERM ? "SIGTERM" : "SIGINT");
  service_.stopping();
  dispatch(node::Shutdown{});
  flush_adverts();
  stopping_ = true;
  // Detaching XDP/tc takes the kernel's rtnl lock for a few milliseconds; a backup on the same host
  // (or in a lab) adding the VIP after our priority-0 advert would wait for it. Give backups their
  // Skew_Time (at most one advert interval) first, bounded so that we still exit within a second.
  core::Time grace{0};
  for (const config::InstancePlan& instance : plan_.instances)
    grace = std::max(grace, instance.core.advert_interval);
  grace =
      std::min<core::Time>(grace + std::chrono::milliseconds(5), std::chrono::milliseconds(500));
  if (!dataplane_) grace = core::Time{0};
  loop_.set_timer(loop_.allocate_timer_id(), loop::monotonic_now() + grace,
                  [this](core::Time) { loop_.stop(); });
}

void Daemon::shutdown() {
  if (!stopping_ && node_) {
    service_.stopping();
    dispatch(node::Shutdown{});
    flush_adverts();
  }
  if (notifier_) notifier_->flush_detached();
  checker_.reset();
  endpoint_watch_.reset();
  firewall_.close();
  receiver_.reset();
  // Scrapes stop reading the kernel's maps before they are closed (waits for one in progress).
  if (exporter_) exporter_->set_kernel_reader({});
  if (dataplane_) {
    dataplane_->detach();
    dataplane_.reset();
    spdlog::info("eBPF data plane detached from {}", plan_.interface);
  }
  // A clean stop leaves nothing behind for `vipd cleanup`.
  run_state_.remove();
  // Not destroyed: civetweb's stop waits for its listener thread's poll quantum (a second or
  // more), which would break "exits within a second" after SIGTERM. The process is exiting; the
  // kernel closes the socket and ends the threads, which only ever read their own snapshot.
  static_cast<void>(exporter_.release());
}

std::string Daemon::answer(std::string_view request) {
  if (request == "status") return status_json();
  if (request == "reload") return reload("vipd reload");
  nlohmann::json error = {{"ok", false},
                          {"errors",
                           {"unknown request '" + std::string(request) +
                            "' (the status socket answers: status, reload)"}}};
  return error.dump() + "\n";
}

std::string Daemon::status_json() const {
  const core::Time now = loop::monotonic_now();
  nlohmann::json instances = nlohmann::json::array();
  for (std::size_t i = 0; i < node_->size(); ++i) {
    if (!node_->active(i)) continue;
    const node::InstanceState& instance = node_->instance(i);
    nlohmann::json vips = nlohmann::json::array();
    for (const config::Vip& vip : instance.plan.vips) {
      vips.push_back(vip.address.to_string() + "/" + std::to_string(vip.prefix));
    }
    const auto master = instance.core.master_address();
    instances.push_back({
        {"name", instance.plan.name},
        {"vrid", instance.plan.core.vrid},
        {"state", core::to_string(instance.core.state())},
        {"priority", instance.core.priority()},
        {"base_priority", instance.base_priority},
        {"master", master ? master->to_string() : ""},
        {"vips", vips},
        {"holds_vips", instance.holds_vips},
        {"state_for_ms", to_ms(now - instance.state_since)},
        {"transitions", instance.transitions},
        {"adverts_sent", instance.adverts_sent},
        {"adverts_heard", instance.adverts_heard},
        {"records_fed", instance.records_fed},
        {"master_down_interval_ms", to_ms(instance.core.master_down_interval())},
        {"alone", instance.alone},
        {"peers_heard", peers_heard_json(*node_, instance, now)},
        {"conflict", conflict_json(instance, now)},
        {"conflicts", {{"vrrp", instance.conflicts_vrrp}, {"foreign", instance.conflicts_foreign}}},
    });
  }
  nlohmann::json peers = nlohmann::json::array();
  for (const node::Peer& peer : node_->peers().peers()) {
    peers.push_back({{"address", peer.address.to_string()},
                     {"source", node::to_string(peer.source)},
                     {"last_heard_ms_ago", peer.last_heard == core::Time{0}
                                               ? nlohmann::json(nullptr)
                                               : nlohmann::json(to_ms(now - peer.last_heard))}});
  }
  nlohmann::json rejects = nlohmann::json::object();
  const RejectCounters counters = receiver_ ? receiver_->rejects() : RejectCounters{};
  for (const core::DecodeError reason : core::reject_reasons()) {
    const std::uint64_t count = counters[static_cast<std::size_t>(reason)];
    if (count != 0) rejects[std::string(core::reason_label(reason))] = count;
  }
  nlohmann::json status = {
      {"interface", plan_.interface},
      {"source", plan_.source.to_string()},
      {"transport", config::transport_name(plan_)},
      {"peers", peers},
      {"split_brain_contacts_sent", contacts_sent_},
      {"split_brain_contact_errors", contact_errors_},
      {"conflict_probes_sent", announcer_.probes_sent()},
      {"receive_path", receiver_ ? receiver_->name() : ""},
      {"uptime_ms", to_ms(now - started_)},
      {"loop_wakeups", loop_.wakeups()},
      {"ringbuf_wakeups", dataplane_ ? dataplane_->wakeups() : 0},
      {"adverts_accepted", receiver_ ? receiver_->accepted() : 0},
      {"adverts_rejected", rejects},
      {"adverts_sent", socket_.sent()},
      {"advert_send_errors", socket_.send_errors()},
      {"announcements_sent", announcer_.sent()},
      {"instances", instances},
  };
  if (endpoint_watch_) status["health_check"] = endpoint_watch_->status_json();
  if (checker_) {
    static constexpr const char* kHealth[] = {"unknown", "healthy", "failed"};
    status["health_check"] = {{"name", plan_.health.name},
                              {"status", kHealth[static_cast<int>(checker_->status())]},
                              {"checks_run", checker_->checks_run()},
                              {"fast_checks", checker_->fast_checks()}};
  }
  return status.dump(2) + "\n";
}

}  // namespace vipd::app
