#include "simulator.h"

#include <algorithm>
#include <array>
#include <functional>
#include <initializer_list>
#include <queue>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "cluster.h"
#include "evidence.h"
#include "node/node.h"
#include "rng.h"
#include "segment.h"
#include "vipd/bpf_abi.h"
#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
#include "vipd/core/overloaded.h"
#include "world.h"

namespace vipd::sim {
namespace {

using core::Time;

constexpr std::size_t kPacketCapacity =
    core::kVrrpHeaderSize + static_cast<std::size_t>(kMaxVips) * 16 + core::kAuthDataSize;
// A run that needs more events than this is livelocked (e.g. two masters answering each other
// forever): reported instead of hanging the test.
constexpr std::uint64_t kEventBudget = 5'000'000;

constexpr std::array<core::FaultReason, 3> kFaultReasons = {core::FaultReason::InterfaceDown,
                                                            core::FaultReason::AddressMissing,
                                                            core::FaultReason::CheckFailed};

// RingWake: the agent's event loop finding the ring buffer readable, after whatever else is due at
// that instant and was scheduled before the packet arrived (a timer drains the ring itself).
// Evidence: an ARP / neighbour discovery frame (split brain) reaching a machine.
enum class EventKind : std::uint8_t { Timer, Deliver, Wake, RingWake, Evidence };
enum class Probe : std::uint8_t { None, CrashMaster, StopMaster, RestartBackup, RaiseBackup };

// Tags folded into the trace hash ahead of each record's fields.
enum class Tag : std::uint64_t {
  Boot = 1,
  Crash,
  Stop,
  Resume,
  Fault,
  Clear,
  Priority,
  Partition,
  Heal,
  Loss,
  Jitter,
  Send,
  Receive,
  Add,
  Remove,
  Announce,
  State,
  Arm,
  Note,
  Timer,
  Probe,
  KernelEvent,
  Notify,
  Check,
  Block,
  Unblock,
  Evidence,
  Claim,
  Reject,
  Peers,
  Window
};

struct Packet {
  int from = 0;
  Time sent{0};
  std::uint64_t rank = 0;  // among the sender's adverts at that instant
  core::Family family = core::Family::V4;
  core::IpAddress destination;             // the VRRP group, one node's primary address, or a VIP
  std::optional<core::MacAddress> to_mac;  // sent as one frame to this MAC (a rival contact)
  std::size_t size = 0;
  std::array<std::uint8_t, kPacketCapacity> bytes{};
};

// Small, since the queue moves events around: a delivery's bytes wait in the packet pool.
struct Event {
  Time at;
  std::uint64_t sequence;  // the last tie-break: scheduling order
  EventKind kind;
  int node = 0;
  int slot = 0;             // VRID slot: of the packet, or the timer's instance
  node::TimerKind timer{};  // Timer events
  std::uint64_t token = 0;  // Timer events: stale when the timer was re-armed since
  // Deliver and Evidence events: the frame's sender, send time and rank among its frames then.
  int from = 0;
  Time sent{0};
  std::uint64_t rank = 0;
  std::uint32_t packet = 0;  // Deliver events: the advert in the packet pool
  EvidenceKind evidence{};   // Evidence events: the frame, about the VRID's VIP `vip`
  int vip = 0;
};

// At one instant: a preempt_delay window closes before that instant's adverts arrive, adverts
// arrive before timers expire (an advert arriving at the deadline counts, whichever receive path
// delivers it), the agent's ring-buffer wake-ups follow, then ARP / ND frames (so both receive
// paths have given the node that instant's adverts before the kernel looks at which VIPs it
// holds), the checker's wake-ups come last. Within a
// kind: by node, VRID, timer kind, and for adverts by send time, sender and rank. Simultaneous
// events thus run in an order given by what they are, not by when they happened to be scheduled,
// which differs between runs that arm timers at other moments (the two receive paths).
int rank_at_instant(const Event& e) {
  switch (e.kind) {
    case EventKind::Deliver:
      return 1;
    case EventKind::Timer:
      return e.timer == node::TimerKind::PreemptWindowEnd ? 0 : 2;
    case EventKind::RingWake:
      return 3;
    case EventKind::Evidence:
      return 4;
    case EventKind::Wake:
      return 5;
  }
  return 6;
}

auto order_key(const Event& e) {
  return std::make_tuple(e.at, rank_at_instant(e), e.node, e.slot, static_cast<int>(e.timer),
                         e.sent, e.from, e.rank, e.sequence);
}

struct Later {
  bool operator()(const Event& a, const Event& b) const { return order_key(a) > order_key(b); }
};

InputContext context_of(const node::Input& input) {
  if (std::holds_alternative<node::AdvertsPending>(input)) return InputContext::Arrival;
  if (const auto* expired = std::get_if<node::TimerExpired>(&input)) {
    switch (expired->timer.kind) {
      case node::TimerKind::Protocol:
        return InputContext::ProtocolTimer;
      case node::TimerKind::PreemptWindowEnd:
        return InputContext::WindowEnd;
      case node::TimerKind::GarpRepeat:
      case node::TimerKind::GarpRefresh:
      case node::TimerKind::ConflictProbe:
      case node::TimerKind::Presence:
      case node::TimerKind::PeerExpiry:
        return InputContext::OtherTimer;
    }
  }
  return InputContext::Other;
}

// The configuration one machine's daemon would plan: every VRID of the world, its own priorities.
config::Plan machine_plan(const World& world, int n, PlantedBug bug,
                          const config::SplitBrainPlan& split_brain) {
  config::Plan plan;
  plan.interface = "sim" + std::to_string(n);
  plan.mac = machine_mac(n);
  plan.source = world.nodes[n].v4;
  plan.split_brain = split_brain;
  for (int v = 0; v < world.vrid_count(); ++v) {
    const VridPlan& vrid = world.vrids[v];
    config::InstancePlan instance;
    instance.number = v + 1;
    instance.name = "n" + std::to_string(n) + "_vrid" + std::to_string(vrid.vrid);
    instance.core = mutate_config(world.nodes[n].instances[v], bug);
    for (const core::IpAddress& vip : vrid.vips)
      instance.vips.push_back(config::Vip{vip, vip.is_v4() ? std::uint8_t{32} : std::uint8_t{128}});
    instance.auth_type = vrid.auth_type;
    instance.auth_key = vrid.auth_key;
    plan.instances.push_back(std::move(instance));
  }
  return plan;
}

const char* probe_name(Probe probe) {
  switch (probe) {
    case Probe::None:
      return "none";
    case Probe::CrashMaster:
      return "crash the master";
    case Probe::StopMaster:
      return "gracefully stop the master";
    case Probe::RestartBackup:
      return "restart the highest-priority backup";
    case Probe::RaiseBackup:
      return "raise a backup above the master (up to 254)";
  }
  return "?";
}

// FNV-1a over 64-bit words: cheap enough to fold every event, text or not.
class Trace {
 public:
  explicit Trace(bool recording) : recording_(recording) {}
  void fold(Tag tag, Time now, std::initializer_list<std::int64_t> fields) {
    mix(static_cast<std::uint64_t>(tag));
    mix(static_cast<std::uint64_t>(now.count()));
    for (const std::int64_t field : fields) mix(static_cast<std::uint64_t>(field));
  }
  bool recording() const { return recording_; }
  void line(Time now, const std::string& text) { text_ += format_time(now) + " " + text + "\n"; }
  void text(const std::string& text) { text_ += text; }
  std::uint64_t hash() const { return hash_; }
  std::string take_text() { return std::move(text_); }

 private:
  void mix(std::uint64_t word) {
    for (int i = 0; i < 8; ++i) {
      hash_ = (hash_ ^ (word & 0xFF)) * 0x100000001B3ull;
      word >>= 8;
    }
  }
  bool recording_;
  std::uint64_t hash_ = 0xCBF29CE484222325ull;
  std::string text_;
};

class Simulation {
 public:
  explicit Simulation(const RunOptions& options)
      : options_(options),
        root_(options.seed),
        world_rng_(root_.fork(1)),
        scenario_rng_(root_.fork(2)),
        network_rng_(root_.fork(3)),
        split_rng_(root_.fork(4)),
        world_(draw_world(world_rng_, options.nodes)),
        cluster_(world_, options.receive_path, options.coalescing_fixes, options.bug),
        checker_(cluster_, [this](Time at) { schedule_wake(at); }),
        trace_(options.record_trace),
        network_key_(network_rng_.next()),
        sends_at_instant_(static_cast<std::size_t>(world_.node_count()), {Time{-1}, 0}) {}

  RunResult run();

 private:
  // The scenario.
  void choose_scenario();
  void split_brain_scenario();
  void start_all();
  void chaos(Time length);
  void chaos_event();
  void recover();
  void probe();
  void crash_master_probe(int master);
  void stop_master_probe(int master);
  Time settle_time() const;
  Time heal_allowance() const;
  Time observe_time() { return scenario_rng_.time_between(2 * world_.unit, 6 * world_.unit); }
  void advance(Time to);
  void quiet(Time length);

  // What the scenario does to machines and the network; each ends with the checker seeing it.
  void boot(int n);
  void crash(int n);
  void stop(int n);
  void resume(int n);
  void raise_fault(int n, int v, core::FaultReason reason);
  void clear_fault(int n, int v, core::FaultReason reason);
  void set_priority(int n, int v, std::uint8_t priority);
  void partition();
  void heal();
  void set_loss(double loss);
  void set_jitter(Time jitter);
  void block_multicast(const std::vector<int>& nodes, MulticastBlock block);
  void unblock_multicast();

  // The event loop.
  void schedule(Event event);
  void schedule_wake(Time at);
  void handle(const Event& event);
  void on_timer(const Event& event);

  // The production node of machine `n`: one input, its commands carried out in the world.
  void input(int n, const node::Input& input);
  void carry_out(int n, const node::Command& command);
  void on_state_change(int n, const node::StateChanged& changed);
  void set_timer(int n, const node::SetTimer& timer);
  std::uint64_t adverts_fed(int n) const;
  std::uint64_t records_fed(int n) const;

  // The network.
  void send_advert(int n, int v, std::uint8_t priority, const core::IpAddress& destination,
                   const std::optional<core::MacAddress>& to_mac);
  std::optional<int> addressee(int from, core::Family family, const core::IpAddress& destination,
                               const std::optional<core::MacAddress>& to_mac) const;
  bool local_address(int n, const core::IpAddress& address) const;
  void receive(int n, const Packet& packet);
  std::uint32_t store_packet(const Packet& packet);
  Packet take_packet(std::uint32_t id);

  // Split-brain evidence (evidence.h) and the source filter, as the daemon sets them.
  // About the VIP of index `vip_index` in VRID slot `v`.
  void send_evidence(int from, int v, EvidenceKind kind, int vip_index, std::optional<int> only_to);
  void on_evidence(const Event& event);
  void deliver_claim(int n, const node::VipClaimed& claimed);
  void update_held_vips(int n);
  void apply_peers(int n);
  std::uint64_t advert_rank(int from);
  std::uint64_t advert_key(int from, int v, std::uint8_t priority, std::uint64_t rank) const;
  bool advert_matches_plan(const core::Advert& advert, const VridPlan& plan) const;

  std::optional<int> sole_master(int v) const;
  std::vector<int> healthy_backups(int v, int except) const;
  std::optional<int> random_node(const std::function<bool(int)>& eligible);
  void log(Time at, const std::string& text) {
    if (trace_.recording()) trace_.line(at, text);
  }
  std::string who(int n, int v) const {
    return "n" + std::to_string(n) + " vrid " + std::to_string(world_.vrids[v].vrid);
  }

  RunOptions options_;
  Rng root_;
  Rng world_rng_;
  Rng scenario_rng_;
  Rng network_rng_;
  Rng split_rng_;  // the scenario choice and the split-brain scenario, apart from the others
  World world_;
  Cluster cluster_;
  Checker checker_;
  Trace trace_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  // Adverts in flight, shared by their deliveries; freed slots are reused.
  struct PooledPacket {
    Packet packet;
    int references = 0;
  };
  std::vector<PooledPacket> packet_pool_;
  std::vector<std::uint32_t> free_packets_;
  std::uint64_t sequence_ = 0;
  std::uint64_t events_ = 0;
  bool over_budget_ = false;
  Time now_{0};
  // Per packet and receiver, the network's draws come from a hash of the packet instead of one
  // sequential stream: a packet's fate then does not depend on how many other adverts were sent,
  // so runs that send different adverts (the two receive paths) still see the same network.
  std::uint64_t network_key_;
  std::vector<std::pair<Time, std::uint64_t>> sends_at_instant_;  // per node: instant, count
  bool quiet_ = false;
  bool world_changed_ = false;  // since the checker last looked
  bool split_brain_ = false;
  config::SplitBrainPlan split_brain_plan_;
  ReceiveStats receive_stats_;
  SplitBrainStats split_stats_;
  std::vector<StateChangeRecord> state_changes_;
};

RunResult Simulation::run() {
  if (trace_.recording()) {
    trace_.text("seed " + std::to_string(options_.seed) + ": " + world_.describe());
  }
  for (int n = 0; n < world_.node_count(); ++n) {
    for (int v = 0; v < world_.vrid_count(); ++v) {
      if (const core::Status status = core::validate(cluster_.config(n, v)); !status) {
        checker_.note_harness_failure(now_, v,
                                      "n" + std::to_string(n) + " config: " + status.message());
      }
    }
  }
  choose_scenario();
  if (split_brain_) {
    split_brain_scenario();
  } else {
    start_all();
    for (int round = 0; round < world_.rounds && !over_budget_; ++round) {
      chaos(scenario_rng_.time_between(10 * world_.unit, 25 * world_.unit));
      recover();
      quiet(settle_time() + observe_time());
      probe();
      quiet(settle_time() + observe_time());
    }
  }
  checker_.finish(now_);

  RunResult result;
  result.seed = options_.seed;
  result.nodes = world_.node_count();
  result.violations = checker_.violations();
  result.trace_hash = trace_.hash();
  result.events = events_;
  result.virtual_time = now_;
  result.stats = checker_.stats();
  result.receive = receive_stats_;
  for (int n = 0; n < world_.node_count(); ++n) {
    split_stats_.not_peer_rejects += cluster_.machine(n).not_peer_rejects;
  }
  split_stats_.split_brain_seeds = split_brain_ ? 1 : 0;
  result.split_brain = split_stats_;
  result.state_changes = std::move(state_changes_);
  result.trace = trace_.take_text();
  return result;
}

void Simulation::start_all() {
  std::vector<std::pair<Time, int>> starts;
  for (int n = 0; n < world_.node_count(); ++n) {
    starts.emplace_back(scenario_rng_.time_between(Time{0}, 2 * world_.unit), n);
  }
  std::sort(starts.begin(), starts.end());
  for (const auto& [at, n] : starts) {
    advance(at);
    boot(n);
  }
  advance(2 * world_.unit);
}

// A few percent of the seeds (from their own stream, so the others replay as before) run the split
// brain of issue 11 instead of chaos rounds. Their split-brain timings vary around the daemon's
// defaults; every other seed runs the defaults.
void Simulation::choose_scenario() {
  const bool drawn = split_rng_.chance(0.03);
  split_brain_ =
      options_.scenario == Scenario::SplitBrain || (options_.scenario == Scenario::Auto && drawn);
  if (!split_brain_) return;
  using std::chrono::seconds;
  split_brain_plan_.probe_interval = split_rng_.chance(0.5) ? seconds(1) : seconds(3);
  // Shorter than the defaults in most seeds: each phase outlasts both, and virtual seconds cost the
  // fast seeds (10 ms adverts) hundreds of intervals each.
  split_brain_plan_.learned_peer_timeout = split_rng_.chance(0.3) ? seconds(10) : seconds(2);
  split_brain_plan_.unicast_window = split_rng_.chance(0.3) ? seconds(10) : seconds(2);
}

// Multicast blocked from the start or after a normal election, between all nodes or around one;
// sometimes a master crashes during the block (and comes back); then the block ends. Every phase
// lasts past its heal deadline by more than a learned peer's timeout and a unicast window, so a
// loser that stops hearing the winner flaps inside the phase.
void Simulation::split_brain_scenario() {
  const bool from_start = split_rng_.chance(0.5);
  const MulticastBlock kind = split_rng_.chance(0.5) ? MulticastBlock::L2 : MulticastBlock::Ip;
  std::vector<int> behind;
  if (split_rng_.chance(0.7)) {
    for (int n = 0; n < world_.node_count(); ++n) behind.push_back(n);
  } else {
    behind.push_back(
        static_cast<int>(split_rng_.index(static_cast<std::size_t>(world_.node_count()))));
  }
  const config::SplitBrainPlan& plan = split_brain_plan_;
  log(now_, std::string("-- split brain: multicast blocked (") + std::string(to_string(kind)) +
                ") " + (from_start ? "from the start" : "after an election") + ", probe " +
                format_time(plan.probe_interval) + ", learned peer timeout " +
                format_time(plan.learned_peer_timeout) + ", window " +
                format_time(plan.unicast_window));
  const Time phase = settle_time() + heal_allowance() + plan.learned_peer_timeout +
                     plan.unicast_window + observe_time();
  if (from_start) block_multicast(behind, kind);
  start_all();
  if (!from_start) {
    quiet(settle_time() + observe_time());
    block_multicast(behind, kind);
  }
  quiet(phase);
  if (split_rng_.chance(0.5)) {
    std::vector<int> masters;
    for (int n = 0; n < world_.node_count(); ++n) {
      if (cluster_.master(n, 0)) masters.push_back(n);
    }
    if (!masters.empty()) {
      const int master = masters[split_rng_.index(masters.size())];
      crash(master);
      quiet(phase);
      if (split_rng_.chance(0.5)) {
        boot(master);
        quiet(phase);
      }
    }
  }
  // Mostly the block ends (multicast comes back: nothing may move); sometimes it lasts to the end.
  if (split_rng_.chance(0.75)) unblock_multicast();
  quiet(settle_time() + observe_time());
}

void Simulation::chaos(Time length) {
  const Time end = now_ + length;
  log(now_, "-- chaos phase until " + format_time(end));
  const std::int64_t units = length / world_.unit;
  std::vector<Time> times(static_cast<std::size_t>(scenario_rng_.between(units / 2, 2 * units)));
  for (Time& at : times) at = scenario_rng_.time_between(now_, end);
  std::sort(times.begin(), times.end());
  for (const Time at : times) {
    advance(at);
    chaos_event();
  }
  advance(end);
}

void Simulation::chaos_event() {
  const int nodes = world_.node_count();
  const int v =
      static_cast<int>(scenario_rng_.index(static_cast<std::size_t>(world_.vrid_count())));
  const double draw = scenario_rng_.unit();
  if (draw < 0.14) {
    // Half the crashes aim at a master: that is where failover bugs live.
    std::optional<int> target;
    if (scenario_rng_.chance(0.5))
      target = random_node([&](int n) { return cluster_.master(n, v); });
    if (!target) target = random_node([&](int n) { return cluster_.machine(n).up; });
    if (target) crash(*target);
  } else if (draw < 0.24) {
    if (auto n = random_node([&](int m) { return !cluster_.machine(m).up; })) boot(*n);
  } else if (draw < 0.32) {
    if (auto n = random_node(
            [&](int m) { return cluster_.machine(m).up && !cluster_.machine(m).stopped; })) {
      stop(*n);
    }
  } else if (draw < 0.40) {
    if (auto n = random_node(
            [&](int m) { return cluster_.machine(m).up && cluster_.machine(m).stopped; })) {
      resume(*n);
    }
  } else if (draw < 0.50) {
    const int n = static_cast<int>(scenario_rng_.index(static_cast<std::size_t>(nodes)));
    raise_fault(n, v, kFaultReasons[scenario_rng_.index(kFaultReasons.size())]);
  } else if (draw < 0.60) {
    if (auto n = random_node([&](int m) { return cluster_.slot(m, v).fault_bits != 0; })) {
      for (const core::FaultReason reason : kFaultReasons) {
        if (cluster_.slot(*n, v).fault_bits & static_cast<std::uint8_t>(reason)) {
          clear_fault(*n, v, reason);
          break;
        }
      }
    }
  } else if (draw < 0.72) {
    auto n =
        random_node([&](int m) { return cluster_.config(m, v).priority != core::kOwnerPriority; });
    if (n) {
      const bool restore = scenario_rng_.chance(0.3);
      set_priority(*n, v,
                   restore ? cluster_.config(*n, v).priority
                           : static_cast<std::uint8_t>(scenario_rng_.between(1, 254)));
    }
  } else if (draw < 0.82) {
    partition();
  } else if (draw < 0.88) {
    heal();
  } else if (draw < 0.96) {
    set_loss(scenario_rng_.chance(0.4) ? 0.0 : 0.05 + 0.55 * scenario_rng_.unit());
  } else {
    set_jitter(scenario_rng_.time_between(Time{0}, world_.jitter_cap));
  }
}

void Simulation::recover() {
  log(now_, "-- recovery, then quiet");
  if (!cluster_.segment().fully_connected()) heal();
  if (!cluster_.segment().lossless()) set_loss(0.0);
  for (int n = 0; n < world_.node_count(); ++n) {
    const Machine& node = cluster_.machine(n);
    if (!node.up && scenario_rng_.chance(0.75)) {
      boot(n);
    } else if (node.up && node.stopped && scenario_rng_.chance(0.75)) {
      resume(n);
    }
  }
  for (int n = 0; n < world_.node_count(); ++n) {
    for (int v = 0; v < world_.vrid_count(); ++v) {
      for (const core::FaultReason reason : kFaultReasons) {
        const bool raised = cluster_.slot(n, v).fault_bits & static_cast<std::uint8_t>(reason);
        if (raised && scenario_rng_.chance(0.75)) clear_fault(n, v, reason);
      }
    }
  }
}

// Long enough for invariant 1's bound from any state: every preempt_delay window closed, then the
// longest Master_Down_Interval and two maximum delays.
Time Simulation::settle_time() const {
  Time longest_window{0};
  Time longest_mdi{0};
  for (int v = 0; v < world_.vrid_count(); ++v) {
    longest_mdi = std::max(longest_mdi, cluster_.max_master_down_interval(v));
    for (int n = 0; n < world_.node_count(); ++n) {
      longest_window = std::max(longest_window, cluster_.config(n, v).preempt_delay);
    }
  }
  return longest_window + longest_mdi + 2 * world_.max_delay;
}

void Simulation::probe() {
  const int v =
      static_cast<int>(scenario_rng_.index(static_cast<std::size_t>(world_.vrid_count())));
  const double draw = scenario_rng_.unit();
  const Probe kind = draw < 0.1    ? Probe::None
                     : draw < 0.4  ? Probe::CrashMaster
                     : draw < 0.65 ? Probe::StopMaster
                     : draw < 0.8  ? Probe::RestartBackup
                                   : Probe::RaiseBackup;
  const std::optional<int> master = sole_master(v);
  log(now_, std::string("-- probe: ") + probe_name(kind) + " of vrid " +
                std::to_string(world_.vrids[v].vrid));
  trace_.fold(Tag::Probe, now_, {static_cast<std::int64_t>(kind), v, master.value_or(-1)});
  if (!master) return;  // not converged: invariant 1 has already said so
  switch (kind) {
    case Probe::None:
      return;
    case Probe::CrashMaster:
      return crash_master_probe(*master);
    case Probe::StopMaster:
      return stop_master_probe(*master);
    case Probe::RestartBackup: {
      std::vector<int> backups = healthy_backups(v, *master);
      if (backups.empty()) return;
      const int highest = *std::max_element(backups.begin(), backups.end(), [&](int a, int b) {
        return cluster_.priority(a, v) < cluster_.priority(b, v);
      });
      crash(highest);
      advance(now_ + scenario_rng_.time_between(world_.unit / 2, 3 * world_.unit));
      boot(highest);
      return;
    }
    case Probe::RaiseBackup: {
      std::vector<int> backups = healthy_backups(v, *master);
      std::erase_if(backups,
                    [&](int n) { return cluster_.config(n, v).priority == core::kOwnerPriority; });
      if (backups.empty()) return;
      const int backup = backups[scenario_rng_.index(backups.size())];
      const int raised =
          cluster_.priority(*master, v) + static_cast<int>(scenario_rng_.between(1, 30));
      set_priority(backup, v, static_cast<std::uint8_t>(std::min(raised, 254)));
      return;
    }
  }
}

// Invariant 2: every backup last heard the master at most one maximum delay after the crash and
// then times out within its own Master_Down_Interval; the first one to do so is the new master.
void Simulation::crash_master_probe(int master) {
  std::vector<std::pair<int, Time>> deadlines;
  for (int v = 0; v < world_.vrid_count(); ++v) {
    if (!cluster_.master(master, v)) continue;
    std::optional<Time> shortest;
    for (const int backup : healthy_backups(v, master)) {
      const Time mdi = cluster_.instance(backup, v).master_down_interval();
      shortest = std::min(shortest.value_or(mdi), mdi);
    }
    if (shortest) deadlines.emplace_back(v, now_ + *shortest + world_.max_delay);
  }
  crash(master);
  for (const auto& [v, deadline] : deadlines) {
    checker_.expect_master(now_, Invariant::Liveness, v, deadline,
                           "master n" + std::to_string(master) + " crashed");
  }
}

// Invariant 4: the priority-0 advert reaches every backup within the maximum delay and sets its
// timer to its Skew_Time; the backup with the shortest skew fires first.
void Simulation::stop_master_probe(int master) {
  std::vector<std::pair<int, Time>> deadlines;
  for (int v = 0; v < world_.vrid_count(); ++v) {
    if (!cluster_.master(master, v)) continue;
    std::optional<Time> shortest;
    for (const int backup : healthy_backups(v, master)) {
      const Time skew = cluster_.instance(backup, v).skew_time();
      shortest = std::min(shortest.value_or(skew), skew);
    }
    if (shortest) deadlines.emplace_back(v, now_ + *shortest + world_.max_delay);
  }
  stop(master);
  for (const auto& [v, deadline] : deadlines) {
    checker_.expect_master(now_, Invariant::GracefulStop, v, deadline,
                           "master n" + std::to_string(master) + " stopped gracefully");
  }
}

void Simulation::quiet(Time length) {
  quiet_ = true;
  advance(now_ + length);
  quiet_ = false;
}

void Simulation::advance(Time to) {
  // Scenario actions follow advance(): on a gridded seed they all land on the grid.
  if (world_.time_grid > Time{0}) {
    to = (to + world_.time_grid - Time{1}) / world_.time_grid * world_.time_grid;
  }
  while (!queue_.empty() && queue_.top().at <= to && !over_budget_) {
    now_ = queue_.top().at;
    while (!queue_.empty() && queue_.top().at == now_) {
      const Event event = queue_.top();
      queue_.pop();
      handle(event);
      ++events_;
    }
    // Only a node's input or a checker wake-up changes what the checker looks at; a batch of
    // packets that were coalesced, lost on a down machine or ignored changes nothing.
    if (world_changed_) checker_.after_batch(now_);
    world_changed_ = false;
    if (events_ > kEventBudget) {
      over_budget_ = true;
      checker_.note_harness_failure(now_, -1, "event budget exceeded: livelock?");
    }
  }
  now_ = std::max(now_, to);
}

std::optional<int> Simulation::sole_master(int v) const {
  std::optional<int> found;
  for (int n = 0; n < world_.node_count(); ++n) {
    if (!cluster_.master(n, v)) continue;
    if (found) return std::nullopt;
    found = n;
  }
  return found;
}

std::vector<int> Simulation::healthy_backups(int v, int except) const {
  std::vector<int> backups;
  for (int n = 0; n < world_.node_count(); ++n) {
    if (n != except && cluster_.healthy(n, v)) backups.push_back(n);
  }
  return backups;
}

std::optional<int> Simulation::random_node(const std::function<bool(int)>& eligible) {
  std::vector<int> candidates;
  for (int n = 0; n < world_.node_count(); ++n) {
    if (eligible(n)) candidates.push_back(n);
  }
  if (candidates.empty()) return std::nullopt;
  return candidates[scenario_rng_.index(candidates.size())];
}

void Simulation::boot(int n) {
  Machine& machine = cluster_.machine(n);
  machine.up = true;
  machine.stopped = false;
  log(now_, "n" + std::to_string(n) + " boots");
  trace_.fold(Tag::Boot, now_, {n});
  machine.receive.reset();
  // The daemon starts with empty kernel maps: no peers, no windows, no held VIPs.
  machine.filter = core::SourceFilter{};
  machine.filter_peers.clear();
  machine.watch.reset();
  machine.node = std::make_unique<node::Node>(
      machine_plan(world_, n, options_.bug, split_brain_plan_), machine.receive,
      trace_.recording() ? node::Level::Debug : node::Level::Error);
  machine.receive.attach(machine.node.get());
  for (std::uint64_t& token : machine.timer_tokens) ++token;
  // The environment the daemon finds when it starts: the same faults, the same priorities.
  for (int v = 0; v < world_.vrid_count(); ++v) {
    const Slot& slot = cluster_.slot(n, v);
    const auto index = static_cast<std::size_t>(v);
    if (slot.effective_priority != cluster_.config(n, v).priority) {
      input(n, node::SetBasePriority{index, slot.effective_priority});
    }
    for (const core::FaultReason reason : kFaultReasons) {
      if (slot.fault_bits & static_cast<std::uint8_t>(reason)) {
        input(n, node::FaultChanged{reason, true, index});
      }
    }
  }
  input(n, node::Start{});
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::crash(int n) {
  Machine& machine = cluster_.machine(n);
  machine.up = false;
  machine.stopped = false;
  log(now_, "n" + std::to_string(n) + " crashes");
  trace_.fold(Tag::Crash, now_, {n});
  machine.receive.attach(nullptr);
  machine.node.reset();
  machine.receive.reset();
  for (Slot& slot : machine.slots) slot.holds_vips = false;  // the VIPs go with the machine
  machine.filter = core::SourceFilter{};
  machine.filter_peers.clear();
  machine.watch.reset();
  for (std::uint64_t& token : machine.timer_tokens) ++token;
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::stop(int n) {
  cluster_.machine(n).stopped = true;
  log(now_, "n" + std::to_string(n) + " stops gracefully");
  trace_.fold(Tag::Stop, now_, {n});
  input(n, node::Shutdown{});
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::resume(int n) {
  cluster_.machine(n).stopped = false;
  log(now_, "n" + std::to_string(n) + " starts again");
  trace_.fold(Tag::Resume, now_, {n});
  input(n, node::Start{});
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::raise_fault(int n, int v, core::FaultReason reason) {
  Slot& slot = cluster_.slot(n, v);
  slot.fault_bits = static_cast<std::uint8_t>(slot.fault_bits | static_cast<std::uint8_t>(reason));
  log(now_, who(n, v) + " fault raised: " + std::string(core::to_string(reason)));
  trace_.fold(Tag::Fault, now_, {n, v, static_cast<std::int64_t>(reason)});
  if (cluster_.machine(n).up)
    input(n, node::FaultChanged{reason, true, static_cast<std::size_t>(v)});
  checker_.note_node_event(now_, n, v);
  checker_.after_action(now_);
}

void Simulation::clear_fault(int n, int v, core::FaultReason reason) {
  Slot& slot = cluster_.slot(n, v);
  slot.fault_bits = static_cast<std::uint8_t>(slot.fault_bits & ~static_cast<std::uint8_t>(reason));
  log(now_, who(n, v) + " fault cleared: " + std::string(core::to_string(reason)));
  trace_.fold(Tag::Clear, now_, {n, v, static_cast<std::int64_t>(reason)});
  if (cluster_.machine(n).up)
    input(n, node::FaultChanged{reason, false, static_cast<std::size_t>(v)});
  checker_.note_node_event(now_, n, v);
  checker_.after_action(now_);
}

// A new effective priority, as a reload or a health-check weight would give it.
void Simulation::set_priority(int n, int v, std::uint8_t priority) {
  Slot& slot = cluster_.slot(n, v);
  slot.effective_priority = priority;
  cluster_.note_priority(v, priority);
  log(now_, who(n, v) + " effective priority " + std::to_string(priority));
  trace_.fold(Tag::Priority, now_, {n, v, priority});
  if (cluster_.machine(n).up)
    input(n, node::SetBasePriority{static_cast<std::size_t>(v), priority});
  checker_.note_priority_change(now_, n, v);
  checker_.after_action(now_);
}

void Simulation::partition() {
  const int nodes = world_.node_count();
  const auto sides = static_cast<int>(scenario_rng_.between(2, std::min(3, nodes)));
  std::vector<int> groups(static_cast<std::size_t>(nodes));
  for (int& group : groups) group = static_cast<int>(scenario_rng_.between(0, sides - 1));
  // At least two sides, or it is no partition.
  groups[0] = 0;
  groups[1 + scenario_rng_.index(static_cast<std::size_t>(nodes - 1))] = 1;
  std::string text = "partition:";
  for (int n = 0; n < nodes; ++n) {
    text += " n" + std::to_string(n) + "@" + std::to_string(groups[n]);
    trace_.fold(Tag::Partition, now_, {n, groups[n]});
  }
  log(now_, text);
  cluster_.segment().partition(std::move(groups));
  checker_.note_network_change(now_);
  checker_.after_action(now_);
}

void Simulation::heal() {
  log(now_, "partition healed");
  trace_.fold(Tag::Heal, now_, {});
  cluster_.segment().heal();
  checker_.note_network_change(now_);
  checker_.after_action(now_);
}

void Simulation::set_loss(double loss) {
  log(now_, "loss " + std::to_string(loss));
  trace_.fold(Tag::Loss, now_, {static_cast<std::int64_t>(loss * 1e9)});
  cluster_.segment().set_loss(loss);
  checker_.note_network_change(now_);
  checker_.after_action(now_);
}

// Not a disturbance: every bound already allows the largest jitter.
void Simulation::set_jitter(Time jitter) {
  log(now_, "jitter " + format_time(jitter));
  trace_.fold(Tag::Jitter, now_, {jitter.count()});
  cluster_.segment().set_jitter(jitter);
}

// What invariants 1, 5, 6 and 7 allow on top of their bounds while multicast is blocked. Invariant
// 1's bound (MDI_max + 2 D after the block or the last disturbance) covers the backups' timeout;
// then a master may not see its rival's gratuitous ARP (both became master within D of each other,
// so neither watched the VIP yet) and finds it by its next RFC 5227 probe, at most 1.25 probe
// intervals later (the node's jitter). Then 2 s: the kernel's claim limit (VIPD_CONFLICT_EVENT_
// INTERVAL_NS, 1 s: at most 4 claims per VIP and second, a MAC once a second) may hold back a
// rival's claim for one interval, and the node's contact budget (4 per instance and second, one
// per rival MAC and second) another. Last, cascades: followers of a master that yields over
// unicast do not hear the winner (they learned the loser), time out one Master_Down_Interval
// later, take over, are found by their gratuitous ARP and yield in turn; each intermediate winner
// is one more level, at most one per node beyond the first two (docs/SIMULATOR.md).
Time Simulation::heal_allowance() const {
  Time longest_mdi{0};
  for (int v = 0; v < world_.vrid_count(); ++v) {
    longest_mdi = std::max(longest_mdi, cluster_.max_master_down_interval(v));
  }
  const Time rate_limits = 2 * Time{static_cast<std::int64_t>(VIPD_CONFLICT_EVENT_INTERVAL_NS)};
  return split_brain_plan_.probe_interval * 5 / 4 + rate_limits +
         (world_.node_count() - 2) * (longest_mdi + 2 * world_.max_delay);
}

// Not a partition: ARP, neighbour discovery and unicast still cross, VRRP group traffic does not.
void Simulation::block_multicast(const std::vector<int>& nodes, MulticastBlock block) {
  std::string text = "multicast blocked (" + std::string(to_string(block)) + ") around";
  for (const int n : nodes) {
    text += " n" + std::to_string(n);
    trace_.fold(Tag::Block, now_, {n, static_cast<std::int64_t>(block)});
  }
  log(now_, text);
  cluster_.segment().block_multicast(nodes, block);
  checker_.note_multicast_block(now_, true, heal_allowance());
  checker_.after_action(now_);
}

void Simulation::unblock_multicast() {
  log(now_, "multicast unblocked");
  trace_.fold(Tag::Unblock, now_, {});
  cluster_.segment().unblock_multicast();
  checker_.note_multicast_block(now_, false, Time{0});
  checker_.after_action(now_);
}

void Simulation::schedule(Event event) {
  event.sequence = sequence_++;
  queue_.push(std::move(event));
}

void Simulation::schedule_wake(Time at) {
  schedule(Event{at, 0, EventKind::Wake});
}

void Simulation::handle(const Event& event) {
  switch (event.kind) {
    case EventKind::Wake:
      world_changed_ = true;  // only makes the checker look at this instant
      return;
    case EventKind::Deliver:
      return receive(event.node, take_packet(event.packet));
    case EventKind::RingWake:
      if (cluster_.machine(event.node).up) input(event.node, node::AdvertsPending{});
      return;
    case EventKind::Timer:
      return on_timer(event);
    case EventKind::Evidence:
      return on_evidence(event);
  }
}

void Simulation::on_timer(const Event& event) {
  const Machine& machine = cluster_.machine(event.node);
  const node::TimerId timer{event.timer, static_cast<std::size_t>(event.slot)};
  if (!machine.up || !machine.node || machine.timer_tokens[timer.index()] != event.token) return;
  trace_.fold(Tag::Timer, now_, {event.node, event.slot, static_cast<std::int64_t>(event.timer)});
  if (event.timer == node::TimerKind::Protocol &&
      withholds_timer(options_.bug, cluster_.instance(event.node, event.slot), now_)) {
    return;
  }
  input(event.node, node::TimerExpired{timer});
}

std::uint64_t Simulation::adverts_fed(int n) const {
  const node::Node& node = *cluster_.machine(n).node;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < node.size(); ++i) total += node.instance(i).adverts_heard;
  return total;
}

std::uint64_t Simulation::records_fed(int n) const {
  const node::Node& node = *cluster_.machine(n).node;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < node.size(); ++i) total += node.instance(i).records_fed;
  return total;
}

void Simulation::input(int n, const node::Input& input) {
  world_changed_ = true;
  Machine& machine = cluster_.machine(n);
  const std::uint64_t fed_before = adverts_fed(n);
  const std::uint64_t records_before = records_fed(n);
  machine.receive.set_context(context_of(input));
  const std::vector<node::Command>& commands = machine.node->handle(now_, input);
  machine.receive.set_context(InputContext::Other);
  const std::uint64_t fed = adverts_fed(n) - fed_before;
  receive_stats_.advert_calls += fed;
  if (quiet_) receive_stats_.quiet_advert_calls += fed;
  receive_stats_.record_feeds += records_fed(n) - records_before;
  std::vector<std::size_t> added;
  for (const node::Command& command : commands) {
    if (drops_command(options_.bug, command)) continue;
    carry_out(n, command);
    if (const auto* add = std::get_if<node::AddVips>(&command)) added.push_back(add->instance);
  }
  // As the daemon does: each AddVips carried out is confirmed after the batch (the simulated host
  // never refuses a VIP), and the new master's announcement follows the confirmation.
  for (const std::size_t instance : added) this->input(n, node::VipsAdded{instance});
}

void Simulation::carry_out(int n, const node::Command& command) {
  std::visit(
      core::Overloaded{
          [&](const node::SendAdvert& send) {
            send_advert(n, static_cast<int>(send.instance), send.priority, send.destination,
                        send.to_mac);
          },
          [&](const node::AddVips& add) {
            const auto v = static_cast<int>(add.instance);
            cluster_.slot(n, v).holds_vips = true;
            update_held_vips(n);
            trace_.fold(Tag::Add, now_, {n, v});
            log(now_, who(n, v) + " adds VIPs");
          },
          [&](const node::RemoveVips& remove) {
            const auto v = static_cast<int>(remove.instance);
            cluster_.slot(n, v).holds_vips = false;
            update_held_vips(n);
            trace_.fold(Tag::Remove, now_, {n, v});
            log(now_, who(n, v) + " removes VIPs");
          },
          [&](const node::Announce& announce) {
            const auto v = static_cast<int>(announce.instance);
            trace_.fold(Tag::Announce, now_, {n, v});
            // One frame per VIP for the burst: its `repeat` copies leave back to back, and the
            // watch reports a MAC at most once a second, so the copies could only matter on a
            // lossy segment, where no invariant expects the healing anyway.
            for (std::size_t vip = 0; vip < world_.vrids[v].vips.size(); ++vip) {
              send_evidence(n, v, EvidenceKind::Announcement, static_cast<int>(vip), std::nullopt);
            }
          },
          [&](const node::SetTimer& timer) { set_timer(n, timer); },
          [&](const node::StateChanged& changed) { on_state_change(n, changed); },
          [&](const node::Notify& notify) {
            trace_.fold(Tag::Notify, now_,
                        {n, static_cast<std::int64_t>(notify.instance),
                         static_cast<std::int64_t>(notify.state), notify.priority});
          },
          [&](const node::CheckNow& check) {
            trace_.fold(Tag::Check, now_, {n, check.port});
          },
          // Not folded into the hash: how much the node says depends on whether the trace is kept.
          [&](const node::Log& line) { log(now_, "  " + line.text); },
          [&](const node::ProbeVips& probe) {
            const auto v = static_cast<int>(probe.instance);
            for (std::size_t vip = 0; vip < world_.vrids[v].vips.size(); ++vip) {
              send_evidence(n, v, EvidenceKind::ProbeRequest, static_cast<int>(vip), std::nullopt);
            }
          },
          [&](const node::PeersChanged&) { apply_peers(n); },
          [&](const node::OpenUnicastWindow& window) {
            trace_.fold(Tag::Window, now_, {n, window.vrid, window.until.count()});
            cluster_.machine(n).filter.set_window(window.vrid, window.until);
          },
          // Only a reload produces these, and the simulator does not reload (the node's reload is
          // covered by tests/unit/node_reload_test.cpp and the lab).
          [&](const node::AddAddresses&) {},
          [&](const node::RemoveAddresses&) {},
          [&](const node::PlanReplaced&) {},
      },
      command);
}

void Simulation::set_timer(int n, const node::SetTimer& timer) {
  Machine& machine = cluster_.machine(n);
  const std::uint64_t token = ++machine.timer_tokens[timer.timer.index()];
  const auto v = static_cast<int>(timer.timer.instance);
  trace_.fold(Tag::Arm, now_,
              {n, v, static_cast<std::int64_t>(timer.timer.kind), timer.at.count()});
  if (timer.at == core::kNever) return;
  Event event{std::max(timer.at, now_), 0, EventKind::Timer, n, v};
  event.timer = timer.timer.kind;
  event.token = token;
  schedule(event);
}

void Simulation::on_state_change(int n, const node::StateChanged& changed) {
  const auto v = static_cast<int>(changed.instance);
  const core::StateChange& change = changed.change;
  state_changes_.push_back(
      StateChangeRecord{now_, n, world_.vrids[v].vrid, change.from, change.to, change.reason});
  trace_.fold(Tag::State, now_,
              {n, v, static_cast<std::int64_t>(change.from), static_cast<std::int64_t>(change.to),
               static_cast<std::int64_t>(change.reason)});
  const bool enters_service = change.reason == core::StateReason::Startup ||
                              change.reason == core::StateReason::AddressOwner ||
                              change.reason == core::StateReason::FaultCleared;
  if (enters_service) cluster_.slot(n, v).service_since = now_;
  if (change.from == core::State::Master || change.to == core::State::Master) {
    checker_.note_master_change(now_, v);
  }
  log(now_, who(n, v) + " " + std::string(core::to_string(change.from)) + " -> " +
                std::string(core::to_string(change.to)) + " (" +
                std::string(core::to_string(change.reason)) + ")");
}

void Simulation::send_advert(int n, int v, std::uint8_t priority,
                             const core::IpAddress& destination,
                             const std::optional<core::MacAddress>& to_mac) {
  const VridPlan& plan = world_.vrids[v];
  core::AdvertSpec spec;
  spec.version = plan.version;
  spec.vrid = plan.vrid;
  spec.priority = priority;
  spec.interval_cs = core::to_centiseconds(plan.interval);
  spec.auth_type = plan.auth_type;
  spec.auth_key = plan.auth_key;
  spec.addresses = plan.vips;
  // The harness check's planted fault: a primary address is never a VIP (198.18/fd00:198:18::
  // against 198.19/fd00:198:18:1VV::), so the advert no longer matches its VRID's plan.
  std::vector<core::IpAddress> wrong_vips;
  if (options_.bug == PlantedBug::EncodeWrongVip) {
    wrong_vips = plan.vips;
    wrong_vips.back() = world_.primary(n, plan.family);
    spec.addresses = wrong_vips;
  }
  Packet packet;
  packet.from = n;
  packet.family = plan.family;
  packet.destination = destination;
  packet.to_mac = to_mac;
  packet.size = core::encode_advert(spec, world_.primary(n, plan.family), destination, packet.bytes,
                                    plan.v3_checksum);
  trace_.fold(Tag::Send, now_, {n, v, priority, static_cast<std::int64_t>(packet.size)});
  if (packet.size == 0) {
    checker_.note_harness_failure(now_, v, "encode_advert refused the advert of " + who(n, v));
    return;
  }
  ++receive_stats_.adverts_sent;
  if (to_mac) ++split_stats_.contacts;
  packet.sent = now_;
  packet.rank = advert_rank(n);
  if (trace_.recording()) {
    log(now_, who(n, v) + " sends priority " + std::to_string(priority) + " to " +
                  destination.to_string() + (to_mac ? " at " + core::to_string(*to_mac) : "") +
                  " (rank " + std::to_string(packet.rank) + ")");
  }
  const std::uint64_t key = advert_key(n, v, priority, packet.rank);
  const std::uint32_t stored = store_packet(packet);
  const bool group = destination == core::vrrp_group(plan.family);
  const FrameKind frame = !group   ? FrameKind::Unicast
                          : to_mac ? FrameKind::GroupToMac
                                   : FrameKind::Group;
  // A frame to a MAC reaches that machine only. A unicast advert reaches the machine with that
  // primary address, or, addressed to one of the VRID's VIPs, the machines holding it then (the
  // sender's kernel resolves the VIP on the link, and every holder answers).
  const bool to_vip = std::find(plan.vips.begin(), plan.vips.end(), destination) != plan.vips.end();
  const std::optional<int> only = addressee(n, plan.family, destination, to_mac);
  for (int to = 0; to < world_.node_count(); ++to) {
    if (to == n) continue;
    if (to_mac && only != to) continue;
    if (!to_mac && to_vip && !cluster_.slot(to, v).holds_vips) continue;
    if (!to_mac && !group && !to_vip && only != to) continue;
    if (!cluster_.segment().passes(n, to, frame)) continue;
    Rng fate(key ^ (static_cast<std::uint64_t>(to) + 1) * 0x9E3779B97F4A7C15ull);
    if (const auto at = cluster_.segment().route(n, to, now_, fate)) {
      Event delivery{*at, 0, EventKind::Deliver, to, v};
      delivery.from = packet.from;
      delivery.sent = packet.sent;
      delivery.rank = packet.rank;
      delivery.packet = stored;
      ++packet_pool_[stored].references;
      schedule(delivery);
    }
  }
  if (packet_pool_[stored].references == 0) free_packets_.push_back(stored);
}

std::uint32_t Simulation::store_packet(const Packet& packet) {
  if (free_packets_.empty()) {
    packet_pool_.push_back(PooledPacket{packet, 0});
    return static_cast<std::uint32_t>(packet_pool_.size() - 1);
  }
  const std::uint32_t id = free_packets_.back();
  free_packets_.pop_back();
  packet_pool_[id] = PooledPacket{packet, 0};
  return id;
}

// A copy: handling the packet may send others, which may grow the pool.
Packet Simulation::take_packet(std::uint32_t id) {
  PooledPacket& pooled = packet_pool_[id];
  const Packet packet = pooled.packet;
  if (--pooled.references == 0) free_packets_.push_back(id);
  return packet;
}

// The one machine a frame that is not plain group multicast goes to: the owner of the MAC it is
// sent to, or the machine whose primary address is its IP destination.
std::optional<int> Simulation::addressee(int from, core::Family family,
                                         const core::IpAddress& destination,
                                         const std::optional<core::MacAddress>& to_mac) const {
  if (to_mac) return machine_of_mac(*to_mac, world_.node_count());
  for (int to = 0; to < world_.node_count(); ++to) {
    if (to != from && world_.primary(to, family) == destination) return to;
  }
  return std::nullopt;
}

// Whether machine `n`'s kernel takes `address` as its own: its primary, or a VIP it holds now.
bool Simulation::local_address(int n, const core::IpAddress& address) const {
  if (world_.nodes[n].v4 == address || world_.nodes[n].v6 == address) return true;
  for (int v = 0; v < world_.vrid_count(); ++v) {
    if (!cluster_.slot(n, v).holds_vips) continue;
    const auto& vips = world_.vrids[v].vips;
    if (std::find(vips.begin(), vips.end(), address) != vips.end()) return true;
  }
  return false;
}

// The daemon's update_watched_vips: the kernel's ARP watch and source check follow the VIPs held.
void Simulation::update_held_vips(int n) {
  Machine& machine = cluster_.machine(n);
  std::vector<core::HeldVip> held;
  for (int v = 0; v < world_.vrid_count(); ++v) {
    if (!cluster_.slot(n, v).holds_vips) continue;
    for (const core::IpAddress& vip : world_.vrids[v].vips)
      held.push_back({vip, world_.vrids[v].vrid});
  }
  machine.filter.set_held_vips(held);
  machine.watch.set_held(held);
}

// The daemon's apply_peers: every peer of the node; configured and resolved ones TTL-exempt.
void Simulation::apply_peers(int n) {
  Machine& machine = cluster_.machine(n);
  std::vector<core::AcceptedSource> sources;
  for (const node::Peer& peer : machine.node->peers().peers()) {
    if (peer.source == node::PeerSource::Learned && drops_learned_peers(options_.bug)) continue;
    sources.push_back({peer.address, peer.source != node::PeerSource::Learned});
    trace_.fold(Tag::Peers, now_, {n, static_cast<std::int64_t>(peer.source)});
  }
  machine.filter.set_peers(sources);
  machine.filter_peers.clear();
  for (const core::AcceptedSource& source : sources) machine.filter_peers.push_back(source.address);
  log(now_,
      "n" + std::to_string(n) + " source filter: " + std::to_string(sources.size()) + " peer(s)");
}

// One ARP / ND frame per receiver: a broadcast (gratuitous ARP, probe) to every other machine, or
// an answer to the prober only. Multicast filters never stop them; partitions and loss do.
void Simulation::send_evidence(int from, int v, EvidenceKind kind, int vip_index,
                               std::optional<int> only_to) {
  ++split_stats_.evidence_frames;
  const std::uint64_t rank = advert_rank(from);
  std::uint64_t key = network_key_ ^ 0x5851F42D4C957F2Dull;
  for (const std::uint64_t field :
       {static_cast<std::uint64_t>(from), static_cast<std::uint64_t>(kind),
        static_cast<std::uint64_t>(now_.count()), rank}) {
    key = Rng(key ^ field).next();
  }
  trace_.fold(Tag::Evidence, now_, {from, v, static_cast<std::int64_t>(kind)});
  for (int to = 0; to < world_.node_count(); ++to) {
    // A machine that is down cannot hold a VIP by the time the frame arrives: it boots as backup.
    if (to == from || (only_to && *only_to != to) || !cluster_.machine(to).up) continue;
    if (!cluster_.segment().passes(from, to, FrameKind::Neighbour)) continue;
    Rng fate(key ^ (static_cast<std::uint64_t>(to) + 1) * 0x9E3779B97F4A7C15ull);
    if (const auto at = cluster_.segment().route(from, to, now_, fate)) {
      Event event{*at, 0, EventKind::Evidence, to, v};
      event.from = from;
      event.sent = now_;
      event.rank = rank;
      event.evidence = kind;
      event.vip = vip_index;
      schedule(event);
    }
  }
}

// What the receiving machine's kernel does with the frame: Linux answers a probe for an address it
// holds; the ARP / NA watch reports a claim of a held VIP from another MAC within its limit.
void Simulation::on_evidence(const Event& event) {
  const int n = event.node;
  Machine& machine = cluster_.machine(n);
  if (!machine.up) return;
  const core::IpAddress& vip = world_.vrids[event.slot].vips[event.vip];
  const int from = event.from;
  trace_.fold(Tag::Evidence, now_,
              {n, event.slot, from, static_cast<std::int64_t>(event.evidence)});
  if (event.evidence == EvidenceKind::ProbeRequest) {
    if (local_address(n, vip)) {
      send_evidence(n, event.slot, EvidenceKind::ProbeReply, event.vip, from);
    }
    return;
  }
  const std::optional<node::VipClaimed> claimed =
      machine.watch.observe(now_, vip, cluster_.machine(from).mac);
  if (!claimed || !machine.node) return;
  log(now_, "n" + std::to_string(n) + " sees " + vip.to_string() + " claimed by n" +
                std::to_string(from) + " (" + std::string(to_string(event.evidence)) + ")");
  deliver_claim(n, *claimed);
}

// The raw-socket path's claim listener and the XDP path's ring buffer (behind the advert events
// already there) both wake the agent once the instant's frames are in.
void Simulation::deliver_claim(int n, const node::VipClaimed& claimed) {
  ++split_stats_.claims;
  trace_.fold(Tag::Claim, now_, {n, claimed.vrid, cluster_.machine(n).mac[5], claimed.mac[5]});
  bool wake = false;
  cluster_.machine(n).receive.claim(claimed, wake);
  if (wake) schedule(Event{now_, 0, EventKind::RingWake, n});
}

std::uint64_t Simulation::advert_rank(int from) {
  auto& [instant, count] = sends_at_instant_[static_cast<std::size_t>(from)];
  if (instant != now_) {
    instant = now_;
    count = 0;
  }
  return count++;
}

// Identifies one advert by its sender, VRID, priority, send time and rank among the sender's
// adverts at that instant: the same advert sent in two runs meets the same network.
std::uint64_t Simulation::advert_key(int from, int v, std::uint8_t priority,
                                     std::uint64_t rank) const {
  std::uint64_t key = network_key_;
  for (const std::uint64_t field :
       {static_cast<std::uint64_t>(from), static_cast<std::uint64_t>(v),
        static_cast<std::uint64_t>(priority), static_cast<std::uint64_t>(now_.count()), rank}) {
    key = Rng(key ^ field).next();
  }
  return key;
}

bool Simulation::advert_matches_plan(const core::Advert& advert, const VridPlan& plan) const {
  if (advert.count != plan.vips.size()) return false;
  for (std::size_t i = 0; i < plan.vips.size(); ++i) {
    if (advert.address(i) != plan.vips[i]) return false;
  }
  if (advert.interval_cs != core::to_centiseconds(plan.interval)) return false;
  if (plan.version == core::VrrpVersion::V2)
    return advert.checksum_form == core::ChecksumForm::V2Message;
  // A message-only checksum may also verify with the pseudo-header when that sum folds to zero.
  return plan.v3_checksum == core::V3Checksum::MessageOnly ||
         advert.checksum_form == core::ChecksumForm::V3PseudoHeader;
}

void Simulation::receive(int n, const Packet& packet) {
  Machine& machine = cluster_.machine(n);
  if (!machine.up) return;
  const bool unicast = packet.destination != core::vrrp_group(packet.family);
  // A frame sent to our MAC for an address we do not hold (any more) is not ours.
  if (packet.to_mac && unicast && !local_address(n, packet.destination)) return;
  core::PacketMeta meta;
  meta.source = world_.primary(packet.from, packet.family);
  meta.destination = packet.destination;
  meta.ttl_exempt = machine.filter.ttl_exempt(meta.source);
  const core::DecodeResult decoded =
      core::decode_advert(std::span<const std::uint8_t>(packet.bytes.data(), packet.size), meta);
  if (!decoded) {
    checker_.note_harness_failure(now_, -1,
                                  "decode_advert rejected an advert from n" +
                                      std::to_string(packet.from) + ": " +
                                      std::string(core::to_string(decoded.error())));
    return;
  }
  const core::Advert& advert = decoded.advert();
  const auto plan = std::find_if(world_.vrids.begin(), world_.vrids.end(), [&](const VridPlan& p) {
    return p.vrid == advert.vrid && p.family == advert.family;
  });
  const int v = static_cast<int>(plan - world_.vrids.begin());
  if (plan == world_.vrids.end()) {
    checker_.note_harness_failure(now_, -1,
                                  "advert for unknown vrid " + std::to_string(advert.vrid));
    return;
  }
  if (const core::DecodeError error = core::check_advert(advert, plan->expectation());
      error != core::DecodeError{}) {
    checker_.note_harness_failure(now_, v,
                                  "check_advert rejected an advert from n" +
                                      std::to_string(packet.from) + ": " +
                                      std::string(core::to_string(error)));
    return;
  }
  if (!advert_matches_plan(advert, *plan)) {
    checker_.note_harness_failure(
        now_, v,
        "advert from n" + std::to_string(packet.from) + " does not decode to what was sent");
    return;
  }
  if (const core::DecodeError error = machine.filter.check(meta, advert.vrid, now_);
      error != core::DecodeError{}) {
    ++machine.not_peer_rejects;
    trace_.fold(Tag::Reject, now_, {n, v, packet.from, static_cast<std::int64_t>(error)});
    log(now_, "n" + std::to_string(n) + " drops an advert from n" + std::to_string(packet.from) +
                  " to " + packet.destination.to_string() + ": " +
                  std::string(core::to_string(error)));
    return;
  }
  if (unicast) ++split_stats_.unicast_adverts;
  trace_.fold(Tag::Receive, now_, {n, v, packet.from, advert.priority});
  ++receive_stats_.arrivals;
  if (std::find(plan->vips.begin(), plan->vips.end(), packet.destination) != plan->vips.end()) {
    ++receive_stats_.vip_arrivals;
  }
  if (quiet_) ++receive_stats_.quiet_arrivals;
  bool wake = false;
  const bool stranger = std::find(machine.filter_peers.begin(), machine.filter_peers.end(),
                                  meta.source) == machine.filter_peers.end();
  const std::uint16_t cause =
      machine.receive.arrive(now_, v, advert, meta.source, unicast, stranger, wake);
  if (options_.receive_path == ReceivePath::Every) {
    // The raw socket: the agent reads it once the instant's packets are in, as on the XDP path. The
    // kernel has taken every packet of the instant by then: a second frame arriving with the first
    // is accepted even when the agent, handling the first, is about to remove the VIP it is
    // addressed to (the removal takes the kernel milliseconds).
    if (wake) schedule(Event{now_, 0, EventKind::RingWake, n});
    return;
  }
  if (trace_.recording()) {
    log(now_,
        "n" + std::to_string(n) + " kernel: advert from n" + std::to_string(packet.from) + " to " +
            packet.destination.to_string() +
            (cause == 0 ? std::string(" coalesced") : " event, cause " + std::to_string(cause)));
  }
  if (cause == 0) return;
  ++receive_stats_.kernel_events;
  trace_.fold(Tag::KernelEvent, now_, {n, v, cause});
  if (wake) schedule(Event{now_, 0, EventKind::RingWake, n});
}

}  // namespace

RunResult run_seed(const RunOptions& options) {
  return Simulation(options).run();
}

std::string describe(const StateChangeRecord& change) {
  return format_time(change.at) + " n" + std::to_string(change.node) + " vrid " +
         std::to_string(change.vrid) + " " + std::string(core::to_string(change.from)) + " -> " +
         std::string(core::to_string(change.to)) + " (" +
         std::string(core::to_string(change.reason)) + ")";
}

void SplitBrainStats::merge(const SplitBrainStats& other) {
  split_brain_seeds += other.split_brain_seeds;
  evidence_frames += other.evidence_frames;
  claims += other.claims;
  contacts += other.contacts;
  unicast_adverts += other.unicast_adverts;
  not_peer_rejects += other.not_peer_rejects;
}

std::string_view to_string(Scenario scenario) {
  switch (scenario) {
    case Scenario::Auto:
      return "auto";
    case Scenario::Normal:
      return "normal";
    case Scenario::SplitBrain:
      return "split-brain";
  }
  return "?";
}

std::optional<Scenario> parse_scenario(std::string_view name) {
  for (const Scenario scenario : {Scenario::Auto, Scenario::Normal, Scenario::SplitBrain}) {
    if (to_string(scenario) == name) return scenario;
  }
  return std::nullopt;
}

void ReceiveStats::merge(const ReceiveStats& other) {
  adverts_sent += other.adverts_sent;
  arrivals += other.arrivals;
  vip_arrivals += other.vip_arrivals;
  advert_calls += other.advert_calls;
  kernel_events += other.kernel_events;
  record_feeds += other.record_feeds;
  quiet_arrivals += other.quiet_arrivals;
  quiet_advert_calls += other.quiet_advert_calls;
}

namespace {

// Changes at one instant on different nodes are independent (every packet takes time). Which of
// them is handled first is an artefact of the event order (the coalesced path delivers an instant's
// adverts at the agent's ring wake-up, after that instant's timers of other nodes), so compare
// them in (time, node, VRID) order, keeping each instance's own order.
std::vector<StateChangeRecord> canonical(std::vector<StateChangeRecord> changes) {
  std::stable_sort(changes.begin(), changes.end(),
                   [](const StateChangeRecord& p, const StateChangeRecord& q) {
                     if (p.at != q.at) return p.at < q.at;
                     if (p.node != q.node) return p.node < q.node;
                     return p.vrid < q.vrid;
                   });
  return changes;
}

}  // namespace

std::optional<std::string> state_change_difference(const RunResult& a, const RunResult& b) {
  const std::vector<StateChangeRecord> x = canonical(a.state_changes);
  const std::vector<StateChangeRecord> y = canonical(b.state_changes);
  const auto [first_x, first_y] = std::mismatch(x.begin(), x.end(), y.begin(), y.end());
  if (first_x == x.end() && first_y == y.end()) return std::nullopt;
  auto shown = [](const std::vector<StateChangeRecord>& changes,
                  std::vector<StateChangeRecord>::const_iterator at) {
    return at == changes.end() ? std::string("(no further change)") : describe(*at);
  };
  return "state change #" + std::to_string(first_x - x.begin()) + " of " +
         std::to_string(x.size()) + "/" + std::to_string(y.size()) + ": " + shown(x, first_x) +
         " vs " + shown(y, first_y);
}

std::string replay_command(const RunOptions& options, int nodes) {
  std::string command = "vipd-sim --seeds 1 --seed " + std::to_string(options.seed) + " --nodes " +
                        std::to_string(nodes) + " --verbose";
  if (options.receive_path != ReceivePath::Every)
    command += " --receive-path " + std::string(to_string(options.receive_path));
  if (options.receive_path == ReceivePath::Coalesced &&
      options.coalescing_fixes != kAllCoalescingFixes)
    command += " --coalescing-fix " + coalescing_fix_names(options.coalescing_fixes);
  if (options.bug != PlantedBug::None)
    command += " --plant-bug " + std::string(to_string(options.bug));
  if (options.scenario != Scenario::Auto)
    command += " --scenario " + std::string(to_string(options.scenario));
  return command;
}

std::string format_violation(const RunOptions& options, const RunResult& result,
                             const Violation& violation) {
  return "VIOLATION seed=" + std::to_string(result.seed) +
         " nodes=" + std::to_string(result.nodes) +
         " invariant=" + std::string(to_string(violation.invariant)) +
         " vrid=" + std::to_string(violation.vrid) + " t=" + format_time(violation.at) + ": " +
         violation.details + " | replay: " + replay_command(options, result.nodes);
}

}  // namespace vipd::sim
