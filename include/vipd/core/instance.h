// One VRRP instance (one VRID on one interface) as a pure state machine: RFC 5798/9568 section 6
// with keepalived's Fault semantics. Inputs are method calls carrying the current time; outputs are
// the returned actions. No clocks, sockets or globals: the daemon and the simulator drive this
// code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/result.h"
#include "vipd/core/timing.h"

namespace vipd::core {

enum class State : std::uint8_t { Initialize, Backup, Master, Fault, Stopped };
std::string_view to_string(State state);  // "INIT", "BACKUP", "MASTER", "FAULT", "STOP"

// Reasons are bits: an instance stays in Fault while any reason is raised.
enum class FaultReason : std::uint8_t {
  InterfaceDown = 1 << 0,
  AddressMissing = 1 << 1,
  CheckFailed = 1 << 2,
  VipRejected = 1 << 3,  // the host refused to add a VIP: a MASTER without its address is worse
};
std::string_view to_string(FaultReason reason);

struct InstanceConfig {
  std::uint8_t vrid = 1;
  VrrpVersion version = VrrpVersion::V2;
  std::uint8_t priority = 100;  // effective priority at start; 255 = address owner
  Time advert_interval = std::chrono::seconds(1);
  bool preempt = true;
  Time preempt_delay{0};  // keepalived preempt_delay: lower adverts accepted this long after start
  IpAddress primary_address;  // ours: the tie-break between equal priorities
};

// Failed with a one-line reason naming the bad value when invalid.
Status validate(const InstanceConfig& config);

struct RxAdvert {
  IpAddress source;
  std::uint8_t priority = 0;
  std::uint16_t interval_cs = 100;
};

// Why a state change happened; the shell turns it into keepalived-style log lines.
enum class StateReason : std::uint8_t {
  Startup,         // start(): Initialize -> Backup
  AddressOwner,    // priority 255 goes straight to Master
  MasterDown,      // Master_Down_Timer expired
  HigherPriority,  // Master heard a higher priority (or equal, higher address)
  FaultRaised,
  FaultCleared,
  Stopped,
};
std::string_view to_string(StateReason reason);

// Events worth a log line that are not state changes.
enum class NoteKind : std::uint8_t {
  ReceivedPriorityZero,    // "(NAME) Backup received priority 0 advertisement"
  SentPriorityZero,        // "(NAME) sent 0 priority"
  LowerPriorityDiscarded,  // "(NAME) received lower priority (P) advert from X - discarding"
  HigherPriorityHeard,     // "(NAME) Master received advert from X with higher priority P, ours Q"
  ForcingNewElection,      // Master heard a lower priority: answered at once (RFC 9568)
  ReceiveTimeout,          // "(NAME) Receive advertisement timeout"
};

struct SendAdvert {
  std::uint8_t priority;
};
struct AddVips {};
struct RemoveVips {};
struct Announce {};  // gratuitous ARP / unsolicited NA burst for the VIPs
struct StateChange {
  State from;
  State to;
  StateReason reason;
};
struct ArmTimer {
  Time at;
};  // the instance's single timer; kNever disarms it
struct Note {
  NoteKind kind;
  IpAddress peer;
  std::uint8_t priority;
};

using Action = std::variant<SendAdvert, AddVips, RemoveVips, Announce, StateChange, ArmTimer, Note>;

// Fixed-capacity list: handling one input never allocates.
class ActionList {
 public:
  static constexpr std::size_t kCapacity = 8;
  void push(const Action& action) {
    if (size_ == kCapacity) std::abort();  // a logic error in Instance, not an input error
    items_[size_++] = action;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Action& operator[](std::size_t i) const { return items_[i]; }
  const Action* begin() const { return items_.data(); }
  const Action* end() const { return items_.data() + size_; }

 private:
  std::array<Action, kCapacity> items_{};
  std::size_t size_ = 0;
};

class Instance {
 public:
  explicit Instance(const InstanceConfig& config);

  ActionList start(Time now);
  ActionList stop(Time now);
  ActionList on_advert(Time now, const RxAdvert& advert);
  // Expiry of the timer last armed; an early or stale call just re-arms the current deadline.
  ActionList on_timer(Time now);
  ActionList raise_fault(Time now, FaultReason reason);
  ActionList clear_fault(Time now, FaultReason reason);
  // The priority the next advert carries and elections use (1-255; 0 is ignored: priority 0 is
  // only ever sent by stop()). Takes effect at the next input; nothing is sent at once.
  void set_priority(std::uint8_t effective_priority);

  State state() const { return state_; }
  std::uint8_t priority() const { return priority_; }
  const InstanceConfig& config() const { return config_; }
  std::uint8_t faults() const { return faults_; }
  Time deadline() const { return deadline_; }
  Time master_adver_interval() const { return master_adver_interval_; }
  Time skew_time() const;
  Time master_down_interval() const;
  // Address of the master last accepted while Backup; ours while Master.
  std::optional<IpAddress> master_address() const { return master_address_; }
  bool preempt_active(Time now) const;

 private:
  void become_master(Time now, StateReason reason, ActionList& out);
  void become_backup(Time now, StateReason reason, ActionList& out);
  void leave_master(ActionList& out);
  void change_state(State to, StateReason reason, ActionList& out);
  void arm(Time at, ActionList& out);
  void send_advert(Time now, std::uint8_t priority, ActionList& out);
  void enter_service(Time now, StateReason reason, ActionList& out);
  ActionList on_advert_as_backup(Time now, const RxAdvert& advert);
  ActionList on_advert_as_master(Time now, const RxAdvert& advert);
  bool wins_against(const RxAdvert& advert) const;

  InstanceConfig config_;
  State state_ = State::Initialize;
  std::uint8_t priority_;
  std::uint8_t faults_ = 0;
  Time master_adver_interval_;
  Time deadline_ = kNever;
  Time preempt_window_start_{0};
  std::optional<IpAddress> master_address_;
};

}  // namespace vipd::core
