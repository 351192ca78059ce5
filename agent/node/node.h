// One node's VRRP orchestration, pure like the protocol core: it owns the instances of one node
// and turns inputs (time, adverts and kernel records, timer expiries, faults, health results,
// shutdown) into I/O commands (send an advert, add or remove VIPs, announce, arm a timer, notify,
// log). No sockets, clocks, epoll or netlink here: the daemon executes the commands with real I/O,
// the simulator against its simulated network, so the simulator proves the code the daemon runs.
//
// It reads the receive path through node::ReceivePath, because what the core must see depends on
// what is waiting there at the moment of an input: every input that changes how adverts are judged
// (a timer expiry, a priority or fault change, start, stop, the end of preempt_delay) first drains
// the ring and feeds the kernel's coalesced record when it is newer than what the core was given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "config/plan.h"
#include "node/commands.h"
#include "node/inputs.h"
#include "node/peers.h"
#include "node/receive_path.h"
#include "vipd/core/instance.h"

namespace vipd::node {

// A master that hears a lower priority re-announces its VIPs, since the other side may have sent
// gratuitous ARPs of its own: at once for each new peer or after a silence, else at most this
// often.
inline constexpr core::Time kLowerPriorityAnnounceInterval = std::chrono::seconds(1);

enum class ConflictKind : std::uint8_t {
  Unknown,  // evidence only (an ARP answer, a gratuitous ARP): the rival is being contacted
  Vrrp,     // the rival answered with a VRRP advert: an election settles it
  Foreign,  // no VRRP answer: a host with the VIP configured by hand; we defend, never yield
};
std::string_view to_string(ConflictKind kind);  // "unknown", "vrrp", "foreign"

// The last second owner of one of an instance's VIPs.
struct Conflict {
  core::Time at{0};     // last evidence
  core::Time since{0};  // the episode's first evidence
  core::IpAddress vip;
  core::MacAddress mac{};
  std::optional<core::IpAddress> rival;  // its address, once it answered with an advert
  ConflictKind kind = ConflictKind::Unknown;
};

// A MAC that claimed one of our VIPs and was contacted with our advert.
struct RivalContact {
  core::MacAddress mac{};
  core::Time last{0};
  int unanswered = 0;  // contacts since the last VRRP answer of the episode
};

// Another node heard on this instance's VRID (any advert, to the group or by unicast).
struct PeerHeard {
  core::IpAddress address;
  core::Time last{0};
};

// What the node keeps for each instance beside the core's state machine.
struct InstanceState {
  InstanceState(config::InstancePlan instance_plan, core::Instance instance)
      : plan(std::move(instance_plan)), core(std::move(instance)) {}

  config::InstancePlan plan;
  core::Instance core;
  std::uint8_t base_priority = 100;  // the configured priority; the check weight applies on top
  std::uint8_t faults = 0;           // FaultReason bits raised from outside, as requested
  bool holds_vips = false;           // between AddVips and RemoveVips
  core::Time last_fed{0};            // receive time of the newest advert given to the core
  core::Time state_since{0};
  std::uint64_t transitions = 0;
  std::uint64_t adverts_sent = 0;
  std::uint64_t adverts_heard = 0;  // adverts given to the core
  std::uint64_t records_fed = 0;    // of those, coalesced kernel records (catch-up, replaced)
  // The lower-priority episode (see kLowerPriorityAnnounceInterval).
  core::IpAddress lower_peer;
  core::Time lower_heard{std::numeric_limits<std::int64_t>::min() / 2};
  core::Time lower_announced{std::numeric_limits<std::int64_t>::min() / 2};
  // Split brain (agent/node/split_brain.cpp).
  std::optional<Conflict> conflict;
  std::vector<RivalContact> contacts;  // this episode's, a few at most
  core::Time contact_window{std::numeric_limits<std::int64_t>::min() / 2};
  int contacts_in_window = 0;
  core::Time defended{std::numeric_limits<std::int64_t>::min() / 2};
  core::Time window_until{0};  // the unicast window last opened for this VRID
  std::uint64_t conflicts_vrrp = 0;
  std::uint64_t conflicts_foreign = 0;
  bool alone = false;
  std::vector<PeerHeard> peers_heard;
  // AddVips asked for and not yet answered (VipsAdded / VipAddFailed); the new master's
  // announcement waits for VipsAdded (agent/node/vip_outcome.cpp).
  bool vips_unconfirmed = false;
  bool announce_when_added = false;
  // Removed by a reload: stopped for good, kept so that instance indices (and the shell's timer
  // slots, TimerId::index()) never move or get reused.
  bool retired = false;
};

class Node {
 public:
  // `verbosity`: the lowest level of Log commands produced (Debug adds one line per advert fed).
  Node(config::Plan plan, ReceivePath& receive, Level verbosity = Level::Info);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Handles one input at `now`. The commands are to be executed in order; they stay valid until
  // the next call.
  const std::vector<Command>& handle(core::Time now, const Input& input);

  const config::Plan& plan() const { return plan_; }
  std::size_t size() const { return instances_.size(); }
  const InstanceState& instance(std::size_t index) const { return instances_[index]; }
  // Not retired by a reload (node/reload.cpp).
  bool active(std::size_t index) const { return !instances_[index].retired; }
  // Other nodes this instance heard within the alone warning's window (three
  // Master_Down_Intervals), by multicast or unicast.
  std::size_t peers_heard_recently(std::size_t index) const;
  // The instance running `vrid`, if any.
  std::optional<std::size_t> find(std::uint8_t vrid) const;
  // Instances entered service (Start given, and the health check answered if there is one).
  bool started() const { return started_; }
  // What the check weight adds to every base priority now.
  int check_adjustment() const { return check_adjustment_; }
  // Peers adverts go to by unicast and whose unicast adverts are accepted.
  const PeerTable& peers() const { return peers_; }
  // Receive time of the last advert from another node, any instance (0: none yet).
  core::Time last_heard_other() const { return last_heard_other_; }

 private:
  enum class Burst { BecameMaster, Repeat, Refresh, LowerPriorityHeard, VipsAdded };

  void on(const Start&);
  void on(const Shutdown&);
  void on(const TimerExpired& expired);
  void on(const AdvertsPending&);
  void on(const FaultChanged& fault);
  void on(const CheckResult& result);
  void on(const VipMissing& missing);
  void on(const VipAddFailed& failed);
  void on(const VipsAdded& added);
  // AddVips for one instance; its outcome arrives as VipsAdded or VipAddFailed.
  void request_vips(std::size_t index);
  // The core's Announce: now, or once the VIPs just asked for are confirmed.
  void announce_new_master(std::size_t index);
  void on(const SetBasePriority& change);
  void on(const VipClaimed& claimed);
  void on(const PeersResolved& resolved);
  void on(const DumpState&);      // node/dump.cpp
  void on(const Reload& reload);  // node/reload.cpp

  // Reload (node/reload.cpp).
  void retire(std::size_t index, const std::string& why);
  // Returns the instance's index: `slot` (a retired one) if given, else a new one at the end.
  std::size_t add_instance(const config::InstancePlan& plan, std::uint8_t node_faults,
                           std::optional<std::size_t> slot);
  void update_instance(std::size_t index, const config::InstancePlan& next);
  std::uint8_t node_wide_faults() const;

  void start_instances();
  void set_fault(core::FaultReason reason, bool raised, std::optional<std::size_t> only);
  void update_priority(std::size_t index);

  // The receive path.
  void drain();
  void catch_up(std::size_t index);
  void on_received(const Received& record);
  void feed(const HeardAdvert& heard, bool from_record);

  // The core's actions, turned into commands.
  void execute(std::size_t index, const core::ActionList& actions);
  void send_advert(std::size_t index, std::uint8_t priority);
  void announce(std::size_t index, Burst burst);
  bool lower_priority_episode(InstanceState& instance, const core::IpAddress& peer);
  core::IpAddress parting_destination(const InstanceState& instance,
                                      const core::IpAddress& winner) const;
  void on_state_change(std::size_t index, const core::StateChange& change);

  // Split brain (agent/node/split_brain.cpp).
  void note_heard(std::size_t index, const HeardAdvert& heard);
  // Returns the rival's contact record, or nullptr when the contact budget is spent.
  RivalContact* contact_rival(std::size_t index, const VipClaimed& claimed);
  void defend(std::size_t index, const VipClaimed& claimed);
  void on_conflict_probe(std::size_t index);
  void on_presence(std::size_t index);
  bool presence_for_another_master(std::size_t index, const HeardAdvert& heard) const;
  void on_peer_expiry();
  void check_alone(std::size_t index);
  std::string split_brain_text(std::size_t index) const;  // a line of the state dump
  void split_brain_on_state_change(std::size_t index, const core::StateChange& change);
  core::Time jittered(core::Time interval);
  bool learned_master(const InstanceState& instance) const;
  bool has_learned_peer() const;

  void set_timer(TimerKind kind, std::size_t index, core::Time at);
  void log(Level level, std::string_view event, std::size_t index, std::string text,
           std::vector<LogField> fields = {});

  config::Plan plan_;
  ReceivePath& receive_;
  Level verbosity_;
  std::vector<InstanceState> instances_;
  std::array<int, 256> by_vrid_{};  // VRID -> index + 1 (0: none)
  std::vector<Command> out_;
  core::Time now_{0};
  bool start_requested_ = false;
  bool started_ = false;
  bool check_answered_ = false;
  int check_adjustment_ = 0;
  PeerTable peers_;
  core::Time last_heard_other_{0};
  std::uint64_t jitter_state_ = 0;  // splitmix64: probe jitter, deterministic per node
};

}  // namespace vipd::node
