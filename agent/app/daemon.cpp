#include "app/daemon.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <cstdarg>
#include <cstdio>

#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "app/raw_receiver.h"
#include "app/wording.h"
#include "app/xdp_receiver.h"

namespace vipd::app {
namespace {

enum TimerKind {
  kProtocolTimer = 0,
  kGarpRepeatTimer = 1,
  kGarpRefreshTimer = 2,
  kPreemptWindowTimer = 3
};
// A master that hears a lower priority re-announces its VIPs (the other side may have sent
// gratuitous ARPs of its own): at once for each new peer, else at most this often.
constexpr core::Time kLowerPriorityAnnounceInterval = std::chrono::seconds(1);
constexpr core::Time kRejectLogInterval = std::chrono::seconds(5);

double to_ms(core::Time t) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(t).count()) /
         1000.0;
}

core::Expectation expectation_for(const config::InstancePlan& instance, core::Family family) {
  core::Expectation expectation;
  expectation.version = instance.core.version;
  expectation.family = family;
  expectation.auth_type = instance.auth_type;
  expectation.auth_key = instance.auth_key;
  if (instance.core.version == core::VrrpVersion::V2) {
    expectation.v2_interval_s = static_cast<std::uint16_t>(
        std::chrono::duration_cast<std::chrono::seconds>(instance.core.advert_interval).count());
  }
  return expectation;
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

}  // namespace

Daemon::Daemon(config::Plan plan)
    : plan_(std::move(plan)), firewall_([](const Argv& argv) {
        return health::run_and_wait(argv, std::chrono::seconds(5));
      }) {
  runtimes_.reserve(plan_.instances.size());
  for (const config::InstancePlan& instance : plan_.instances) {
    Runtime runtime{instance, core::Instance(instance.core)};
    for (std::uint64_t& timer : runtime.timers) timer = loop_.allocate_timer_id();
    for (const config::Vip& vip : instance.vips) runtime.vip_addresses.push_back(vip.address);
    runtimes_.push_back(std::move(runtime));
    by_vrid_[instance.core.vrid] = static_cast<int>(runtimes_.size());
  }
}

Daemon::~Daemon() = default;

int Daemon::run() {
  started_ = monotonic_now();
  if (std::string error = loop_.init({SIGTERM, SIGINT, SIGHUP}); !error.empty()) {
    spdlog::error("cannot start the event loop: {}", error);
    return 1;
  }
  loop_.on_signal([this](int signo) { on_signal(signo); });
  if (std::string error = open_io(); !error.empty()) {
    spdlog::error("{}", error);
    return 1;
  }
  remove_stale_vips();
  if (!plan_.notify_script.empty())
    notifier_ =
        std::make_unique<health::Notifier>(loop_, std::vector<std::string>{plan_.notify_script});
  if (plan_.health.kind == config::HealthPlan::Kind::None) {
    start_instances();
  } else if (plan_.health.kind == config::HealthPlan::Kind::ServiceEndpoints) {
    if (std::string error = start_endpoint_watch(); !error.empty()) {
      spdlog::error("cannot start the Kubernetes endpoint check: {}", error);
      shutdown();
      return 1;
    }
  } else {
    // Like keepalived, instances enter service once the check has answered (a failing check with
    // no weight starts them in FAULT).
    checker_ = std::make_unique<health::HealthChecker>(
        loop_, plan_.health,
        [this](health::Health status, const std::string& detail) { on_health(status, detail); });
    checker_->start();
  }
  const int result = loop_.run();
  shutdown();
  if (result != 0) {
    spdlog::error("event loop failed");
    return 1;
  }
  spdlog::info("Stopped vipd");
  return 0;
}

std::string Daemon::open_io() {
  // First: the status socket's name is unique per network namespace and interface, so a second
  // vipd on the same interface stops here, before it could replace the first one's XDP program.
  if (std::string error = status_.listen(plan_.status_socket); !error.empty()) return error;
  if (std::string error =
          loop_.add_fd(status_.fd(), EPOLLIN,
                       [this](std::uint32_t) { status_.serve([this] { return status_json(); }); });
      !error.empty()) {
    return error;
  }
  if (std::string error = netlink_.open(); !error.empty()) return error;
  if (std::string error = netlink_.subscribe_events(
          [this](const net::NetlinkEvent& event) { on_netlink_event(event); });
      !error.empty()) {
    return error;
  }
  if (std::string error = loop_.add_fd(netlink_.event_fd(), EPOLLIN,
                                       [this](std::uint32_t) { netlink_.read_events(); });
      !error.empty()) {
    return error;
  }
  bool xdp = false;
  if (!plan_.use_bpf) {
    spdlog::info(
        "eBPF disabled (--no-bpf): receiving adverts on a raw socket; port-probe counters "
        "unavailable");
  } else if (std::string why = open_dataplane(); !why.empty()) {
    dataplane_.reset();
    spdlog::warn(
        "eBPF data plane unavailable: {}; falling back to a raw VRRP socket (port-probe counters "
        "unavailable)",
        why);
  } else {
    xdp = true;
  }
  if (std::string error = socket_.open(plan_.interface, plan_.ifindex, plan_.source, !xdp);
      !error.empty()) {
    return "cannot open the VRRP socket on " + plan_.interface + ": " + error;
  }
  if (xdp) {
    std::vector<std::uint8_t> vrids;
    for (const Runtime& runtime : runtimes_) vrids.push_back(runtime.plan.core.vrid);
    receiver_ = std::make_unique<XdpReceiver>(
        *dataplane_, vrids, [this](const vipd_conflict_event& event) { on_vip_conflict(event); },
        [this](const vipd_port_event& event) {
          if (checker_) checker_->on_refused(event.port, event.rst_tx);
        });
  } else {
    std::array<std::optional<core::Expectation>, 256> expectations;
    for (const Runtime& runtime : runtimes_) {
      expectations[runtime.plan.core.vrid] = expectation_for(runtime.plan, plan_.source.family());
    }
    receiver_ = std::make_unique<RawSocketReceiver>(socket_, expectations, plan_.unicast_peers);
  }
  open_firewall();
  if (std::string error =
          loop_.add_fd(receiver_->fd(), EPOLLIN, [this](std::uint32_t) { on_receiver_readable(); });
      !error.empty()) {
    return error;
  }
  if (std::string error = announcer_.open(plan_.interface, plan_.ifindex, plan_.mac);
      !error.empty()) {
    return "cannot open the announcement socket: " + error;
  }
  loop_.on_idle([this] {
    if (socket_.flush() > 0) spdlog::warn("sending adverts failed: {}", socket_.last_error());
  });
  return {};
}

std::string Daemon::open_dataplane() {
  libbpf_set_print(libbpf_to_debug_log);
  bpf::Options options;
  options.interface = plan_.interface;
  options.xdp_mode = plan_.xdp_mode == "native"    ? bpf::XdpMode::Native
                     : plan_.xdp_mode == "generic" ? bpf::XdpMode::Generic
                                                   : bpf::XdpMode::Auto;
  const std::string pin_suffix = "/vipd/" + plan_.interface;
  if (plan_.pin_path.size() > pin_suffix.size() && plan_.pin_path.ends_with(pin_suffix)) {
    options.bpffs_root = plan_.pin_path.substr(0, plan_.pin_path.size() - pin_suffix.size());
  } else {
    return "pin path " + plan_.pin_path + " must end in " + pin_suffix;
  }
  auto opened = bpf::Dataplane::open(options);
  if (!opened) return opened.message();
  dataplane_ = std::move(opened.value());
  if (bpf::Status status = dataplane_->attach(); !status) return status.message();

  core::Time longest_interval{0};
  for (const Runtime& runtime : runtimes_) {
    longest_interval = std::max(longest_interval, runtime.plan.core.advert_interval);
    const core::Expectation expectation = expectation_for(runtime.plan, plan_.source.family());
    bpf::VridConfig vrid;
    vrid.vrid = runtime.plan.core.vrid;
    vrid.version = expectation.version;
    vrid.family = expectation.family;
    vrid.auth_type = expectation.auth_type;
    vrid.auth_key = expectation.auth_key;
    vrid.v2_interval_s = static_cast<std::uint8_t>(expectation.v2_interval_s);
    if (bpf::Status status = dataplane_->set_vrid_config(vrid); !status) return status.message();
  }
  // A master that went quiet for two intervals and came back with an identical advert must still
  // reach us: the record is then stale and the kernel re-emits it.
  if (bpf::Status status =
          dataplane_->set_global_config({2 * longest_interval, plan_.xdp_drop_invalid});
      !status) {
    return status.message();
  }
  if (bpf::Status status = dataplane_->set_unicast_peers(plan_.unicast_peers); !status)
    return status.message();
  if (std::string error = update_watched_vips(); !error.empty()) return error;
  const std::array<bpf::MacAddress, 1> macs = {plan_.mac};
  if (bpf::Status status = dataplane_->set_own_macs(macs); !status) return status.message();
  if (plan_.health.kind == config::HealthPlan::Kind::TcpPort) {
    const std::array<std::uint16_t, 1> ports = {plan_.health.port};
    if (bpf::Status status = dataplane_->set_monitored_ports(ports); !status)
      return status.message();
  }

  const bpf::AttachState& state = dataplane_->state();
  spdlog::info("eBPF data plane attached to {}: XDP {} (prog id {}){}, tc probe counters {}; {}",
               plan_.interface, state.xdp_mode == bpf::XdpMode::Native ? "native" : "generic",
               state.xdp_prog_id, state.replaced_stale_xdp ? ", replaced a stale program" : "",
               state.tc_attached ? "on" : "off",
               state.pinned ? "maps pinned at " + state.pin_dir : "no pins: " + state.pin_note);
  return {};
}

std::string Daemon::update_watched_vips() {
  if (!dataplane_) return {};
  // Only VIPs we hold can conflict: a backup hearing the master's gratuitous ARP is normal.
  std::vector<bpf::Vip> vips;
  for (const Runtime& runtime : runtimes_) {
    if (!runtime.holds_vips) continue;
    for (const core::IpAddress& address : runtime.vip_addresses)
      vips.push_back({address, runtime.plan.core.vrid});
  }
  const bpf::Status status = dataplane_->set_vips(vips);
  return status ? std::string() : status.message();
}

void Daemon::on_vip_conflict(const vipd_conflict_event& event) {
  const auto family = event.family == 6 ? core::Family::V6 : core::Family::V4;
  const core::IpAddress vip = core::IpAddress::from_bytes(family, event.ip);
  spdlog::warn(
      "VIP {} (VRID {}) is also announced on {} by {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, not "
      "us",
      vip.to_string(), event.vrid, plan_.interface, event.mac[0], event.mac[1], event.mac[2],
      event.mac[3], event.mac[4], event.mac[5]);
}

void Daemon::remove_stale_vips() {
  for (const net::AddressEntry& entry : netlink_.addresses(plan_.ifindex)) {
    for (const Runtime& runtime : runtimes_) {
      const auto& vips = runtime.vip_addresses;
      if (std::find(vips.begin(), vips.end(), entry.address) == vips.end()) continue;
      spdlog::warn("({}) removing stale VIP {}/{} from {} (left by an earlier run)",
                   runtime.plan.name, entry.address.to_string(), entry.prefix, plan_.interface);
      if (std::string error = netlink_.remove_address(plan_.ifindex, entry.address, entry.prefix);
          !error.empty()) {
        spdlog::error("({}) {}", runtime.plan.name, error);
      }
    }
  }
}

void Daemon::start_instances() {
  instances_started_ = true;
  resync_interface();
  const core::Time now = monotonic_now();
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    Runtime& runtime = runtimes_[i];
    runtime.state_since = now;
    catch_up(i);
    execute(i, runtime.instance.start(now), now);
  }
}

void Daemon::stop_instances() {
  const core::Time now = monotonic_now();
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    catch_up(i);
    execute(i, runtimes_[i].instance.stop(now), now);
  }
  if (socket_.flush() > 0)
    spdlog::warn("sending priority 0 adverts failed: {}", socket_.last_error());
}

void Daemon::shutdown() {
  if (!stopping_) stop_instances();
  if (notifier_) notifier_->flush_detached();
  checker_.reset();
  endpoint_watch_.reset();
  firewall_.close();
  for (Runtime& runtime : runtimes_) {
    if (runtime.holds_vips) remove_vips(runtime);
  }
  receiver_.reset();
  if (dataplane_) {
    dataplane_->detach();
    dataplane_.reset();
    spdlog::info("eBPF data plane detached from {}", plan_.interface);
  }
}

void Daemon::execute(std::size_t index, const core::ActionList& actions, core::Time now) {
  Runtime& runtime = runtimes_[index];
  for (const core::Action& action : actions) {
    if (const auto* send = std::get_if<core::SendAdvert>(&action)) {
      send_advert(runtime, send->priority);
    } else if (std::holds_alternative<core::AddVips>(action)) {
      // The new master's advert goes on the wire before the (slower) address change.
      if (socket_.flush() > 0) spdlog::warn("sending adverts failed: {}", socket_.last_error());
      add_vips(runtime);
    } else if (std::holds_alternative<core::RemoveVips>(action)) {
      // A priority-0 advert goes out before the address removal, which can take the kernel
      // ~10 ms: backups wait only Skew_Time after it, and holding the VIP a few ms longer is
      // harmless.
      if (socket_.flush() > 0) spdlog::warn("sending adverts failed: {}", socket_.last_error());
      remove_vips(runtime);
    } else if (std::holds_alternative<core::Announce>(action)) {
      announce(index, Burst::BecameMaster);
    } else if (const auto* change = std::get_if<core::StateChange>(&action)) {
      on_state_change(index, *change, now);
    } else if (const auto* arm = std::get_if<core::ArmTimer>(&action)) {
      loop_.set_timer(timer_id(index, kProtocolTimer), arm->at,
                      [this, index](core::Time at) { on_instance_timer(index, at); });
    } else if (const auto* note = std::get_if<core::Note>(&action)) {
      spdlog::info("{}", note_text(runtime.plan.name, *note, runtime.instance.priority()));
      if (note->kind == core::NoteKind::ForcingNewElection &&
          lower_priority_episode(runtime, note->peer, now)) {
        announce(index, Burst::LowerPriorityHeard);
      }
    }
  }
}

void Daemon::send_advert(Runtime& runtime, std::uint8_t priority) {
  core::AdvertSpec spec;
  spec.version = runtime.plan.core.version;
  spec.vrid = runtime.plan.core.vrid;
  spec.priority = priority;
  spec.interval_cs = core::to_centiseconds(runtime.plan.core.advert_interval);
  spec.auth_type = runtime.plan.auth_type;
  spec.auth_key = runtime.plan.auth_key;
  spec.addresses = runtime.vip_addresses;
  std::array<std::uint8_t, core::kMaxAdvertSize> buffer;
  auto send_to = [&](const core::IpAddress& destination) {
    const std::size_t size = core::encode_advert(spec, plan_.source, destination, buffer);
    if (size == 0) {
      spdlog::error("({}) cannot encode advert", runtime.plan.name);
      return;
    }
    socket_.queue(std::span(buffer.data(), size), destination);
    ++runtime.adverts_sent;
  };
  if (plan_.unicast_peers.empty()) {
    send_to(core::vrrp_group(plan_.source.family()));
  } else {
    for (const core::IpAddress& peer : plan_.unicast_peers) send_to(peer);
  }
}

void Daemon::add_vips(Runtime& runtime) {
  for (const config::Vip& vip : runtime.plan.vips) {
    if (std::string error = netlink_.add_address(plan_.ifindex, vip.address, vip.prefix);
        !error.empty()) {
      spdlog::error("({}) cannot add VIP: {}", runtime.plan.name, error);
    }
  }
  runtime.holds_vips = true;
  if (std::string error = update_watched_vips(); !error.empty())
    spdlog::warn("ARP watch: {}", error);
}

void Daemon::remove_vips(Runtime& runtime) {
  runtime.holds_vips = false;
  if (std::string error = update_watched_vips(); !error.empty())
    spdlog::warn("ARP watch: {}", error);
  for (const config::Vip& vip : runtime.plan.vips) {
    if (std::string error = netlink_.remove_address(plan_.ifindex, vip.address, vip.prefix);
        !error.empty()) {
      spdlog::error("({}) cannot remove VIP: {}", runtime.plan.name, error);
    }
  }
}

void Daemon::announce(std::size_t index, Burst burst) {
  Runtime& runtime = runtimes_[index];
  if (runtime.instance.state() != core::State::Master || plan_.garp.repeat == 0) return;
  for (const core::IpAddress& vip : runtime.vip_addresses) {
    spdlog::info("Sending {} on {} for {}",
                 vip.is_v4() ? "gratuitous ARP" : "unsolicited neighbour advert", plan_.interface,
                 vip.to_string());
  }
  std::size_t failed = 0;
  for (int i = 0; i < plan_.garp.repeat; ++i) failed += announcer_.announce(runtime.vip_addresses);
  if (failed > 0)
    spdlog::warn("({}) {} of the announcements failed: {}", runtime.plan.name, failed,
                 announcer_.last_error());
  const core::Time now = monotonic_now();
  if (burst == Burst::BecameMaster && plan_.garp.delay > core::Time{0}) {
    loop_.set_timer(timer_id(index, kGarpRepeatTimer), now + plan_.garp.delay,
                    [this, index](core::Time) { announce(index, Burst::Repeat); });
  }
  if ((burst == Burst::BecameMaster || burst == Burst::Refresh) &&
      plan_.garp.refresh > core::Time{0}) {
    loop_.set_timer(timer_id(index, kGarpRefreshTimer), now + plan_.garp.refresh,
                    [this, index](core::Time) { announce(index, Burst::Refresh); });
  }
}

void Daemon::on_state_change(std::size_t index, const core::StateChange& change, core::Time now) {
  Runtime& runtime = runtimes_[index];
  ++runtime.transitions;
  runtime.state_since = now;
  spdlog::info("{}", entering_state(runtime.plan.name, change));
  spdlog::info("{}", transition_reason(runtime.plan.name, change, runtime.instance));
  if (change.from == core::State::Master && change.reason == core::StateReason::HigherPriority) {
    // A split brain just ended and clients may still have our MAC for the VIPs. One parting
    // advert at our (lower) priority makes the winner answer and re-announce them, even when its
    // advert reached us before ours reached it.
    send_advert(runtime, runtime.instance.priority());
  }
  if (receiver_ && (change.to == core::State::Master || change.from == core::State::Master)) {
    receiver_->set_master(runtime.plan.core.vrid, change.to == core::State::Master);
  }
  // Adverts accepted during preempt_delay must count until the window closes: look again then.
  const bool window_opened = change.reason == core::StateReason::Startup ||
                             change.reason == core::StateReason::FaultCleared;
  if (window_opened && runtime.plan.core.preempt &&
      runtime.plan.core.preempt_delay > core::Time{0}) {
    loop_.set_timer(timer_id(index, kPreemptWindowTimer), now + runtime.plan.core.preempt_delay,
                    [this, index](core::Time) { catch_up(index); });
  }
  if (notifier_ && change.to != core::State::Initialize) {
    notifier_->notify(runtime.plan.name, std::string(core::to_string(change.to)),
                      runtime.instance.priority());
  }
  if (change.from == core::State::Master) {
    loop_.cancel_timer(timer_id(index, kGarpRepeatTimer));
    loop_.cancel_timer(timer_id(index, kGarpRefreshTimer));
  }
}

void Daemon::on_instance_timer(std::size_t index, core::Time now) {
  // Adverts waiting in the ring buffer or coalesced in the kernel count before the timer does.
  Runtime& runtime = runtimes_[index];
  // A master hears every advert as an event (the kernel's deliver-all switch); only a backup's
  // down timer depends on adverts the kernel coalesced.
  if (runtime.instance.state() == core::State::Backup) {
    catch_up(index);
  } else {
    on_receiver_readable();
  }
  execute(index, runtime.instance.on_timer(now), now);
}

bool Daemon::lower_priority_episode(Runtime& runtime, const core::IpAddress& peer, core::Time now) {
  // A new peer, or one heard again after a silence (a partition healed), starts a new episode and
  // gets an announcement at once; a peer that keeps sending gets one per interval at most.
  const bool new_peer = peer != runtime.last_lower_peer;
  const bool after_silence = now - runtime.last_lower_heard > 2 * runtime.plan.core.advert_interval;
  const bool due = now - runtime.last_lower_announce >= kLowerPriorityAnnounceInterval;
  runtime.last_lower_heard = now;
  runtime.last_lower_peer = peer;
  if (!new_peer && !after_silence && !due) return false;
  runtime.last_lower_announce = now;
  return true;
}

void Daemon::catch_up(std::size_t index) {
  if (!receiver_) return;
  on_receiver_readable();
  Runtime& runtime = runtimes_[index];
  if (auto latest = receiver_->latest(runtime.plan.core.vrid);
      latest && latest->at > runtime.last_fed) {
    on_advert(*latest);
  }
}

void Daemon::on_advert(const HeardAdvert& heard) {
  const int slot = by_vrid_[heard.vrid];
  if (slot == 0) return;
  const auto index = static_cast<std::size_t>(slot - 1);
  Runtime& runtime = runtimes_[index];
  if (heard.only_if_newer && heard.at <= runtime.last_fed) return;
  if (heard.at > runtime.last_fed) runtime.last_fed = heard.at;
  ++runtime.adverts_heard;
  execute(index, runtime.instance.on_advert(heard.at, heard.advert), monotonic_now());
}

void Daemon::on_receiver_readable() {
  receiver_->drain([this](const HeardAdvert& heard) { on_advert(heard); });
  log_rejects();
}

void Daemon::log_rejects() {
  const auto reject = receiver_->take_last_reject();
  if (!reject) return;
  const core::Time now = monotonic_now();
  if (now - last_reject_log_ < kRejectLogInterval && last_reject_log_ != core::Time{0}) return;
  last_reject_log_ = now;
  spdlog::warn("{}", reject_text(plan_.interface, reject->first, reject->second));
}

void Daemon::on_netlink_event(const net::NetlinkEvent& event) {
  using Kind = net::NetlinkEvent::Kind;
  switch (event.kind) {
    case Kind::Resync:
      resync_interface();
      return;
    case Kind::LinkChanged:
    case Kind::LinkRemoved:
      if (event.link.ifindex != plan_.ifindex) return;
      set_fault(core::FaultReason::InterfaceDown,
                event.kind == Kind::LinkRemoved || !event.link.usable());
      return;
    case Kind::AddressAdded:
      if (event.address.ifindex == plan_.ifindex && event.address.address == plan_.source) {
        set_fault(core::FaultReason::AddressMissing, false);
      }
      return;
    case Kind::AddressRemoved:
      break;
  }
  if (event.address.ifindex != plan_.ifindex) return;
  if (event.address.address == plan_.source) {
    set_fault(core::FaultReason::AddressMissing, true);
    return;
  }
  for (Runtime& runtime : runtimes_) {
    const auto& vips = runtime.vip_addresses;
    if (!runtime.holds_vips ||
        std::find(vips.begin(), vips.end(), event.address.address) == vips.end()) {
      continue;
    }
    spdlog::warn("({}) VIP {} was removed from {} while MASTER: re-adding it", runtime.plan.name,
                 event.address.address.to_string(), plan_.interface);
    add_vips(runtime);
  }
}

void Daemon::resync_interface() {
  const auto link = netlink_.link(plan_.ifindex);
  set_fault(core::FaultReason::InterfaceDown, !link || !link->usable());
  bool has_source = false;
  for (const net::AddressEntry& entry : netlink_.addresses(plan_.ifindex)) {
    if (entry.address == plan_.source) has_source = true;
  }
  set_fault(core::FaultReason::AddressMissing, !has_source);
}

void Daemon::set_fault(core::FaultReason reason, bool raised) {
  const auto bit = static_cast<std::uint8_t>(reason);
  if (((faults_ & bit) != 0) == raised) return;
  faults_ = static_cast<std::uint8_t>(raised ? faults_ | bit : faults_ & ~bit);
  if (reason == core::FaultReason::InterfaceDown) {
    spdlog::info("Netlink reports {} {}", plan_.interface, raised ? "down" : "up");
  } else {
    spdlog::info("{}: instances {} FAULT", core::to_string(reason), raised ? "enter" : "may leave");
  }
  const core::Time now = monotonic_now();
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    core::Instance& instance = runtimes_[i].instance;
    // Before start() the core only records the fault (no actions) and start() honours it.
    if (instance.state() != core::State::Initialize) catch_up(i);
    execute(i, raised ? instance.raise_fault(now, reason) : instance.clear_fault(now, reason), now);
  }
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
  if (plan_.health.weight == 0) {
    set_fault(core::FaultReason::CheckFailed, failed);
  } else {
    apply_check_weight(status);
  }
  if (!instances_started_) start_instances();
}

// ---- Kubernetes local-endpoint check (issue 14) ------------------------------------------------
// The watcher's verdict takes the HealthChecker's path: on_health, so FAULT (or the check weight)
// and the first-answer start of the instances work the same.
std::string Daemon::start_endpoint_watch() {
  endpoint_watch_ = std::make_unique<k8s::EndpointWatch>(
      loop_, plan_.health, [this](k8s::Verdict verdict, const std::string& detail) {
        on_health(
            verdict == k8s::Verdict::Healthy ? health::Health::Healthy : health::Health::Failed,
            detail);
      });
  return endpoint_watch_->start();
}
// -------------------------------------------------------------------------------------------------

void Daemon::apply_check_weight(health::Health status) {
  const int weight = plan_.health.weight;
  int adjustment = 0;
  if (status == health::Health::Healthy && weight > 0) adjustment = weight;
  if (status == health::Health::Failed && weight < 0) adjustment = weight;
  const core::Time now = monotonic_now();
  for (std::size_t i = 0; i < runtimes_.size(); ++i) {
    Runtime& runtime = runtimes_[i];
    const std::uint8_t next = core::effective_priority(runtime.plan.core.priority, adjustment);
    if (next == runtime.instance.priority()) continue;
    spdlog::info("({}) Changing effective priority from {} to {}", runtime.plan.name,
                 runtime.instance.priority(), next);
    catch_up(i);
    execute(i, runtime.instance.set_priority(now, next), now);
    // Adverts the kernel coalesced were judged against the old priority: hear the next one anew.
    if (receiver_) receiver_->forget(runtime.plan.core.vrid);
  }
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

void Daemon::on_signal(int signo) {
  if (signo == SIGHUP) {
    spdlog::info("SIGHUP received: configuration reload is not supported yet, ignoring");
    return;
  }
  if (stopping_) return;
  spdlog::info("Stopping vipd ({} received)", signo == SIGTERM ? "SIGTERM" : "SIGINT");
  stop_instances();
  stopping_ = true;
  // Detaching XDP/tc takes the kernel's rtnl lock for a few milliseconds; a backup on the same host
  // (or in a lab) adding the VIP after our priority-0 advert would wait for it. Give backups their
  // Skew_Time (at most one advert interval) first, bounded so that we still exit within a second.
  core::Time grace{0};
  for (const Runtime& runtime : runtimes_)
    grace = std::max(grace, runtime.plan.core.advert_interval);
  grace =
      std::min<core::Time>(grace + std::chrono::milliseconds(5), std::chrono::milliseconds(500));
  if (!dataplane_) grace = core::Time{0};
  loop_.set_timer(loop_.allocate_timer_id(), monotonic_now() + grace,
                  [this](core::Time) { loop_.stop(); });
}

std::string Daemon::status_json() const {
  const core::Time now = monotonic_now();
  nlohmann::json instances = nlohmann::json::array();
  for (const Runtime& runtime : runtimes_) {
    nlohmann::json vips = nlohmann::json::array();
    for (const config::Vip& vip : runtime.plan.vips) {
      vips.push_back(vip.address.to_string() + "/" + std::to_string(vip.prefix));
    }
    const auto master = runtime.instance.master_address();
    instances.push_back({
        {"name", runtime.plan.name},
        {"vrid", runtime.plan.core.vrid},
        {"state", core::to_string(runtime.instance.state())},
        {"priority", runtime.instance.priority()},
        {"base_priority", runtime.plan.core.priority},
        {"master", master ? master->to_string() : ""},
        {"vips", vips},
        {"holds_vips", runtime.holds_vips},
        {"state_for_ms", to_ms(now - runtime.state_since)},
        {"transitions", runtime.transitions},
        {"adverts_sent", runtime.adverts_sent},
        {"adverts_heard", runtime.adverts_heard},
        {"master_down_interval_ms", to_ms(runtime.instance.master_down_interval())},
    });
  }
  nlohmann::json rejects = nlohmann::json::object();
  const RejectCounters counters = receiver_ ? receiver_->rejects() : RejectCounters{};
  for (std::size_t i = 1; i < counters.size(); ++i) {
    if (counters[i] == 0) continue;
    const std::string key = i == kUnknownVridSlot
                                ? "unknown VRID"
                                : std::string(core::to_string(static_cast<core::DecodeError>(i)));
    rejects[key] = counters[i];
  }
  nlohmann::json status = {
      {"interface", plan_.interface},
      {"source", plan_.source.to_string()},
      {"transport", plan_.unicast_peers.empty() ? "multicast" : "unicast"},
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
  if (endpoint_watch_) status["health_check"] = endpoint_watch_->status_json();  // issue 14
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
