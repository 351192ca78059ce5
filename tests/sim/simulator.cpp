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
#include "rng.h"
#include "segment.h"
#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
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
// WindowEnd: a preempt_delay window closes (CoalescingFix::FlushAtWindowEnd).
enum class EventKind : std::uint8_t { Timer, Deliver, Wake, RingWake, WindowEnd };
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
  Feed
};

struct Packet {
  int from = 0;
  Time sent{0};
  std::uint64_t rank = 0;  // among the sender's adverts at that instant
  core::Family family = core::Family::V4;
  std::size_t size = 0;
  std::array<std::uint8_t, kPacketCapacity> bytes{};
};

struct Event {
  Time at;
  std::uint64_t sequence;  // the last tie-break: scheduling order
  EventKind kind;
  int node = 0;
  int slot = 0;
  std::uint64_t token = 0;
  Packet packet{};
};

// At one instant: a preempt_delay window closes before that instant's adverts arrive, adverts
// arrive before timers expire (an advert arriving at the deadline counts, whichever receive path
// delivers it), the agent's ring-buffer wake-ups follow, the checker's wake-ups come last. Within a
// kind: by node, VRID, and for adverts by send time, sender and rank. Simultaneous events thus run
// in an order given by what they are, not by when they happened to be scheduled, which differs
// between runs that arm timers at other moments (the two receive paths).
int rank_at_instant(EventKind kind) {
  switch (kind) {
    case EventKind::WindowEnd:
      return 0;
    case EventKind::Deliver:
      return 1;
    case EventKind::Timer:
      return 2;
    case EventKind::RingWake:
      return 3;
    case EventKind::Wake:
      return 4;
  }
  return 5;
}

auto order_key(const Event& e) {
  return std::make_tuple(e.at, rank_at_instant(e.kind), e.node, e.slot, e.packet.sent,
                         e.packet.from, e.packet.rank, e.sequence);
}

struct Later {
  bool operator()(const Event& a, const Event& b) const { return order_key(a) > order_key(b); }
};

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

std::string describe(const core::Note& note) {
  const std::string peer = note.peer.to_string();
  const std::string priority = std::to_string(note.priority);
  switch (note.kind) {
    case core::NoteKind::ReceivedPriorityZero:
      return "received priority 0 from " + peer;
    case core::NoteKind::SentPriorityZero:
      return "sent priority 0";
    case core::NoteKind::LowerPriorityDiscarded:
      return "discarded lower priority " + priority + " from " + peer;
    case core::NoteKind::HigherPriorityHeard:
      return "master heard higher priority " + priority + " from " + peer;
    case core::NoteKind::ForcingNewElection:
      return "master heard lower priority " + priority + " from " + peer + ": answering";
    case core::NoteKind::ReceiveTimeout:
      return "receive timeout";
  }
  return "?";
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
        world_(draw_world(world_rng_, options.nodes)),
        cluster_(world_),
        checker_(cluster_, [this](Time at) { schedule_wake(at); }),
        trace_(options.record_trace),
        network_key_(network_rng_.next()),
        sends_at_instant_(static_cast<std::size_t>(world_.node_count()), {Time{-1}, 0}) {
    // vipd_global_cfg.stale_ns: twice the daemon's longest interval, which is the world's longest.
    receivers_.assign(static_cast<std::size_t>(world_.node_count()),
                      CoalescedReceiver(world_.vrid_count(), 2 * world_.unit));
  }

  RunResult run();

 private:
  // The scenario.
  void start_all();
  void chaos(Time length);
  void chaos_event();
  void recover();
  void probe();
  void crash_master_probe(int master);
  void stop_master_probe(int master);
  Time settle_time() const;
  Time observe_time() { return scenario_rng_.time_between(2 * world_.unit, 6 * world_.unit); }
  void advance(Time to);
  void quiet(Time length);

  // What the scenario does to nodes and the network; each ends with the checker seeing it.
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

  // The event loop.
  void schedule(Event event);
  void schedule_wake(Time at);
  void handle(const Event& event);
  void apply(int n, int v, const core::ActionList& actions);
  void send_advert(int n, int v, std::uint8_t priority);
  void receive(int n, const Packet& packet);
  bool coalesced() const { return options_.receive_path == ReceivePath::Coalesced; }
  void kernel_receive(int n, int v, const core::Advert& advert, const core::IpAddress& source);
  bool fixed(CoalescingFix fix) const {
    return coalesced() && (options_.coalescing_fixes & static_cast<std::uint8_t>(fix)) != 0;
  }
  void drain_ring(int n);
  void flush(int n, int v);
  void feed_record(int n, int v);
  void flush_before_input(int n, int v) {
    if (fixed(CoalescingFix::FlushBeforeInputs) && cluster_.node(n).up) flush(n, v);
  }
  void on_window_end(int n, int v);
  void on_state_change(int n, int v, const core::StateChange& change);
  void feed(int n, const HeardAdvert& heard);
  void on_timer(int n, int v);
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
  World world_;
  Cluster cluster_;
  Checker checker_;
  Trace trace_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t sequence_ = 0;
  std::uint64_t events_ = 0;
  bool over_budget_ = false;
  Time now_{0};
  // Per packet and receiver, the network's draws come from a hash of the packet instead of one
  // sequential stream: a packet's fate then does not depend on how many other adverts were sent,
  // so runs that send different adverts (the two receive paths) still see the same network.
  std::uint64_t network_key_;
  std::vector<std::pair<Time, std::uint64_t>> sends_at_instant_;  // per node: instant, count
  std::vector<CoalescedReceiver> receivers_;  // per node, used on the coalesced path
  bool quiet_ = false;
  ReceiveStats receive_stats_;
  std::vector<StateChangeRecord> state_changes_;
};

RunResult Simulation::run() {
  if (trace_.recording()) {
    trace_.text("seed " + std::to_string(options_.seed) + ": " + world_.describe());
  }
  for (int n = 0; n < world_.node_count(); ++n) {
    for (int v = 0; v < world_.vrid_count(); ++v) {
      if (const std::string error = core::validate(cluster_.config(n, v)); !error.empty()) {
        checker_.note_harness_failure(now_, v, "n" + std::to_string(n) + " config: " + error);
      }
    }
  }
  start_all();
  for (int round = 0; round < world_.rounds && !over_budget_; ++round) {
    chaos(scenario_rng_.time_between(10 * world_.unit, 25 * world_.unit));
    recover();
    quiet(settle_time() + observe_time());
    probe();
    quiet(settle_time() + observe_time());
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
    if (!target) target = random_node([&](int n) { return cluster_.node(n).up; });
    if (target) crash(*target);
  } else if (draw < 0.24) {
    if (auto n = random_node([&](int m) { return !cluster_.node(m).up; })) boot(*n);
  } else if (draw < 0.32) {
    if (auto n =
            random_node([&](int m) { return cluster_.node(m).up && !cluster_.node(m).stopped; })) {
      stop(*n);
    }
  } else if (draw < 0.40) {
    if (auto n =
            random_node([&](int m) { return cluster_.node(m).up && cluster_.node(m).stopped; })) {
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
    const Node& node = cluster_.node(n);
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
      const Time mdi = cluster_.slot(backup, v).instance->core().master_down_interval();
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
      const Time skew = cluster_.slot(backup, v).instance->core().skew_time();
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
    checker_.after_batch(now_);
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
  Node& node = cluster_.node(n);
  node.up = true;
  node.stopped = false;
  log(now_, "n" + std::to_string(n) + " boots");
  trace_.fold(Tag::Boot, now_, {n});
  for (int v = 0; v < world_.vrid_count(); ++v) {
    Slot& slot = cluster_.slot(n, v);
    slot.instance.emplace(cluster_.config(n, v), options_.bug);
    ++slot.timer_token;
    if (slot.effective_priority != cluster_.config(n, v).priority) {
      apply(n, v, slot.instance->set_priority(now_, slot.effective_priority));
    }
    for (const core::FaultReason reason : kFaultReasons) {
      if (slot.fault_bits & static_cast<std::uint8_t>(reason)) {
        apply(n, v, slot.instance->raise_fault(now_, reason));
      }
    }
    apply(n, v, slot.instance->start(now_));
  }
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::crash(int n) {
  Node& node = cluster_.node(n);
  node.up = false;
  node.stopped = false;
  log(now_, "n" + std::to_string(n) + " crashes");
  trace_.fold(Tag::Crash, now_, {n});
  receivers_[static_cast<std::size_t>(n)].reset();
  for (Slot& slot : node.slots) {
    slot.holds_vips = false;  // the VIPs go with the machine
    slot.instance.reset();
    ++slot.timer_token;
  }
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::stop(int n) {
  cluster_.node(n).stopped = true;
  log(now_, "n" + std::to_string(n) + " stops gracefully");
  trace_.fold(Tag::Stop, now_, {n});
  for (int v = 0; v < world_.vrid_count(); ++v) {
    flush_before_input(n, v);
    apply(n, v, cluster_.slot(n, v).instance->stop(now_));
  }
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::resume(int n) {
  cluster_.node(n).stopped = false;
  log(now_, "n" + std::to_string(n) + " starts again");
  trace_.fold(Tag::Resume, now_, {n});
  for (int v = 0; v < world_.vrid_count(); ++v) {
    flush_before_input(n, v);
    apply(n, v, cluster_.slot(n, v).instance->start(now_));
  }
  checker_.note_node_event(now_, n, -1);
  checker_.after_action(now_);
}

void Simulation::raise_fault(int n, int v, core::FaultReason reason) {
  Slot& slot = cluster_.slot(n, v);
  slot.fault_bits = static_cast<std::uint8_t>(slot.fault_bits | static_cast<std::uint8_t>(reason));
  log(now_, who(n, v) + " fault raised: " + std::string(core::to_string(reason)));
  trace_.fold(Tag::Fault, now_, {n, v, static_cast<std::int64_t>(reason)});
  flush_before_input(n, v);
  if (cluster_.node(n).up) apply(n, v, slot.instance->raise_fault(now_, reason));
  checker_.note_node_event(now_, n, v);
  checker_.after_action(now_);
}

void Simulation::clear_fault(int n, int v, core::FaultReason reason) {
  Slot& slot = cluster_.slot(n, v);
  slot.fault_bits = static_cast<std::uint8_t>(slot.fault_bits & ~static_cast<std::uint8_t>(reason));
  log(now_, who(n, v) + " fault cleared: " + std::string(core::to_string(reason)));
  trace_.fold(Tag::Clear, now_, {n, v, static_cast<std::int64_t>(reason)});
  flush_before_input(n, v);
  if (cluster_.node(n).up) apply(n, v, slot.instance->clear_fault(now_, reason));
  checker_.note_node_event(now_, n, v);
  checker_.after_action(now_);
}

void Simulation::set_priority(int n, int v, std::uint8_t priority) {
  Slot& slot = cluster_.slot(n, v);
  slot.effective_priority = priority;
  cluster_.note_priority(v, priority);
  log(now_, who(n, v) + " effective priority " + std::to_string(priority));
  trace_.fold(Tag::Priority, now_, {n, v, priority});
  flush_before_input(n, v);
  if (cluster_.node(n).up) apply(n, v, slot.instance->set_priority(now_, priority));
  // A master whose priority fell below the recorded sender must hear that sender's next advert.
  if (fixed(CoalescingFix::FlushBeforeInputs)) receivers_[static_cast<std::size_t>(n)].forget(v);
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
      return;  // only makes the checker look at this instant
    case EventKind::Deliver:
      return receive(event.node, event.packet);
    case EventKind::RingWake:
      return drain_ring(event.node);
    case EventKind::WindowEnd:
      return on_window_end(event.node, event.slot);
    case EventKind::Timer: {
      const Slot& slot = cluster_.slot(event.node, event.slot);
      if (!cluster_.node(event.node).up || !slot.instance || slot.timer_token != event.token)
        return;
      return on_timer(event.node, event.slot);
    }
  }
}

// Daemon::on_instance_timer: on the coalesced path, adverts waiting in the ring buffer reach the
// core before its timer does, and so does the newest one coalesced in the kernel record when the
// instance is a Backup (the daemon feeds the record to backups only).
void Simulation::on_timer(int n, int v) {
  trace_.fold(Tag::Timer, now_, {n, v});
  if (coalesced() && options_.bug != PlantedBug::TimerSkipsKernelRecord) {
    drain_ring(n);
    const bool backup = cluster_.slot(n, v).instance->core().state() == core::State::Backup;
    if (backup || fixed(CoalescingFix::FeedRecordToMasters)) feed_record(n, v);
  }
  apply(n, v, cluster_.slot(n, v).instance->on_timer(now_));
}

// Daemon::catch_up: the ring buffer, then the record, whatever the instance's state (the fixes
// flush-before-inputs and flush-at-window-end).
void Simulation::flush(int n, int v) {
  drain_ring(n);
  feed_record(n, v);
}

// The record, when it is newer than what the instance was given.
void Simulation::feed_record(int n, int v) {
  CoalescedReceiver& receiver = receivers_[static_cast<std::size_t>(n)];
  if (const auto latest = receiver.latest(v); latest && latest->at > receiver.last_fed(v)) {
    ++receive_stats_.record_feeds;
    feed(n, *latest);
  }
}

// Adverts coalesced inside the window were accepted there whatever their priority; the ones after
// it may not be. The record must reach the core before the first of those overwrites it.
void Simulation::on_window_end(int n, int v) {
  const Slot& slot = cluster_.slot(n, v);
  if (!cluster_.node(n).up || !slot.instance) return;
  const core::Instance& core = slot.instance->core();
  if (core.state() != core::State::Backup) return;
  if (slot.service_since + core.config().preempt_delay != now_) return;  // a later window
  flush(n, v);
}

void Simulation::drain_ring(int n) {
  if (!cluster_.node(n).up) return;
  CoalescedReceiver& receiver = receivers_[static_cast<std::size_t>(n)];
  for (const RingEvent& event : receiver.drain()) {
    const auto& replaced = event.replaced;
    if (fixed(CoalescingFix::FeedReplacedRecord) && replaced &&
        replaced->at > receiver.last_fed(replaced->slot)) {
      ++receive_stats_.record_feeds;
      feed(n, *replaced);
    }
    feed(n, event.heard);
  }
}

// Daemon::on_advert.
void Simulation::feed(int n, const HeardAdvert& heard) {
  Slot& slot = cluster_.slot(n, heard.slot);
  receivers_[static_cast<std::size_t>(n)].note_fed(heard.slot, heard.at);
  ++receive_stats_.advert_calls;
  if (quiet_) ++receive_stats_.quiet_advert_calls;
  trace_.fold(Tag::Feed, now_, {n, heard.slot, heard.at.count(), heard.advert.priority});
  if (trace_.recording()) {
    log(now_,
        who(n, heard.slot) + " hears priority " + std::to_string(heard.advert.priority) + " from " +
            heard.advert.source.to_string() +
            (heard.at == now_ ? std::string() : " (record of " + format_time(heard.at) + ")"));
  }
  apply(n, heard.slot, slot.instance->on_advert(heard.at, heard.advert));
}

void Simulation::kernel_receive(int n, int v, const core::Advert& advert,
                                const core::IpAddress& source) {
  CoalescedReceiver& receiver = receivers_[static_cast<std::size_t>(n)];
  const bool wake_pending = !receiver.ring_empty();
  const std::uint16_t cause = receiver.on_valid_advert(now_, v, advert, source);
  if (cause == 0) return;
  ++receive_stats_.kernel_events;
  trace_.fold(Tag::KernelEvent, now_, {n, v, cause});
  if (!wake_pending) schedule(Event{now_, 0, EventKind::RingWake, n});
}

void Simulation::apply(int n, int v, const core::ActionList& actions) {
  Slot& slot = cluster_.slot(n, v);
  for (const core::Action& action : actions) {
    std::visit(
        Overloaded{
            [&](const core::SendAdvert& send) { send_advert(n, v, send.priority); },
            [&](const core::AddVips&) {
              slot.holds_vips = true;
              trace_.fold(Tag::Add, now_, {n, v});
              log(now_, who(n, v) + " adds VIPs");
            },
            [&](const core::RemoveVips&) {
              slot.holds_vips = false;
              trace_.fold(Tag::Remove, now_, {n, v});
              log(now_, who(n, v) + " removes VIPs");
            },
            [&](const core::Announce&) {
              trace_.fold(Tag::Announce, now_, {n, v});
            },
            [&](const core::StateChange& change) {
              on_state_change(n, v, change);
              trace_.fold(
                  Tag::State, now_,
                  {n, v, static_cast<std::int64_t>(change.from),
                   static_cast<std::int64_t>(change.to), static_cast<std::int64_t>(change.reason)});
              const bool enters_service = change.reason == core::StateReason::Startup ||
                                          change.reason == core::StateReason::AddressOwner ||
                                          change.reason == core::StateReason::FaultCleared;
              if (enters_service) slot.service_since = now_;
              if (change.from == core::State::Master || change.to == core::State::Master) {
                checker_.note_master_change(now_, v);
              }
              log(now_, who(n, v) + " " + std::string(core::to_string(change.from)) + " -> " +
                            std::string(core::to_string(change.to)) + " (" +
                            std::string(core::to_string(change.reason)) + ")");
            },
            [&](const core::ArmTimer& arm) {
              ++slot.timer_token;
              trace_.fold(Tag::Arm, now_, {n, v, arm.at.count()});
              if (arm.at == core::kNever) return;
              schedule(Event{std::max(arm.at, now_), 0, EventKind::Timer, n, v, slot.timer_token});
            },
            [&](const core::Note& note) {
              trace_.fold(Tag::Note, now_,
                          {n, v, static_cast<std::int64_t>(note.kind), note.priority});
              if (trace_.recording()) log(now_, who(n, v) + " " + describe(note));
            },
        },
        action);
  }
}

void Simulation::on_state_change(int n, int v, const core::StateChange& change) {
  state_changes_.push_back(
      StateChangeRecord{now_, n, world_.vrids[v].vrid, change.from, change.to, change.reason});
  if (!coalesced()) return;
  CoalescedReceiver& receiver = receivers_[static_cast<std::size_t>(n)];
  // Daemon::on_state_change: the next advert from anyone reaches a new master.
  if (change.to == core::State::Master) receiver.forget(v);
  if (fixed(CoalescingFix::MasterHearsEvery)) {
    if (change.to == core::State::Master) receiver.deliver_all(v, true);
    if (change.from == core::State::Master) receiver.deliver_all(v, false);
  }
  const core::InstanceConfig& config = cluster_.slot(n, v).instance->core().config();
  const bool window_opens =
      change.to == core::State::Backup && (change.reason == core::StateReason::Startup ||
                                           change.reason == core::StateReason::FaultCleared);
  if (fixed(CoalescingFix::FlushAtWindowEnd) && window_opens && config.preempt &&
      config.preempt_delay > Time{0}) {
    schedule(Event{now_ + config.preempt_delay, 0, EventKind::WindowEnd, n, v});
  }
}

void Simulation::send_advert(int n, int v, std::uint8_t priority) {
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
  packet.size = core::encode_advert(spec, world_.primary(n, plan.family),
                                    core::vrrp_group(plan.family), packet.bytes, plan.v3_checksum);
  trace_.fold(Tag::Send, now_, {n, v, priority, static_cast<std::int64_t>(packet.size)});
  if (packet.size == 0) {
    checker_.note_harness_failure(now_, v, "encode_advert refused the advert of " + who(n, v));
    return;
  }
  ++receive_stats_.adverts_sent;
  packet.sent = now_;
  packet.rank = advert_rank(n);
  const std::uint64_t key = advert_key(n, v, priority, packet.rank);
  for (int to = 0; to < world_.node_count(); ++to) {
    if (to == n) continue;
    Rng fate(key ^ (static_cast<std::uint64_t>(to) + 1) * 0x9E3779B97F4A7C15ull);
    if (const auto at = cluster_.segment().route(n, to, now_, fate)) {
      schedule(Event{*at, 0, EventKind::Deliver, to, v, 0, packet});
    }
  }
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
  if (!cluster_.node(n).up) return;
  core::PacketMeta meta;
  meta.source = world_.primary(packet.from, packet.family);
  meta.destination = core::vrrp_group(packet.family);
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
  trace_.fold(Tag::Receive, now_, {n, v, packet.from, advert.priority});
  ++receive_stats_.arrivals;
  if (quiet_) ++receive_stats_.quiet_arrivals;
  if (coalesced()) return kernel_receive(n, v, advert, meta.source);
  feed(n, HeardAdvert{now_, v, core::RxAdvert{meta.source, advert.priority, advert.interval_cs}});
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

void ReceiveStats::merge(const ReceiveStats& other) {
  adverts_sent += other.adverts_sent;
  arrivals += other.arrivals;
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
