#include "vipd/core/instance.h"

#include <cstdint>
#include <string>

namespace vipd::core {
namespace {

constexpr Time kMaxPreemptDelay = std::chrono::seconds(1000);  // keepalived's bound

// Exact decimal seconds ("1.5", "0.0105", "-1"): an error must show the value as configured, not a
// rounded one that may look valid.
std::string format_seconds(Time t) {
  constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
  const bool negative = t < Time{0};
  const auto count = static_cast<std::uint64_t>(t.count());
  const std::uint64_t magnitude = negative ? 0 - count : count;  // unsigned: no overflow at min()
  std::string text;
  if (negative) text += '-';
  text += std::to_string(magnitude / kNsPerSecond);
  const std::uint64_t fraction = magnitude % kNsPerSecond;
  if (fraction == 0) return text;
  std::string digits = std::to_string(fraction);
  digits.insert(0, 9 - digits.size(), '0');
  digits.erase(digits.find_last_not_of('0') + 1);
  text += '.';
  text += digits;
  return text;
}

std::string interval_error(const InstanceConfig& config) {
  using std::chrono::milliseconds;
  const auto ms = std::chrono::duration_cast<milliseconds>(config.advert_interval).count();
  const bool exact_ms = milliseconds(ms) == config.advert_interval;
  const std::string shown = format_seconds(config.advert_interval);
  if (config.version == VrrpVersion::V2) {
    if (!exact_ms || ms % 1000 != 0 || ms < 1000 || ms > 255'000) {
      return "invalid advert interval " + shown + " s for VRRPv2 (whole seconds 1-255)";
    }
  } else if (!exact_ms || ms % 10 != 0 || ms < 10 || ms > 40'950) {
    return "invalid advert interval " + shown + " s for VRRPv3 (0.01-40.95 in steps of 0.01)";
  }
  return {};
}

}  // namespace

std::string_view to_string(State state) {
  switch (state) {
    case State::Initialize:
      return "INIT";
    case State::Backup:
      return "BACKUP";
    case State::Master:
      return "MASTER";
    case State::Fault:
      return "FAULT";
    case State::Stopped:
      return "STOP";
  }
  return "?";
}

std::string_view to_string(FaultReason reason) {
  switch (reason) {
    case FaultReason::InterfaceDown:
      return "interface down";
    case FaultReason::AddressMissing:
      return "primary address missing";
    case FaultReason::CheckFailed:
      return "health check failed";
    case FaultReason::VipRejected:
      return "VIP could not be added";
  }
  return "?";
}

std::string_view to_string(StateReason reason) {
  switch (reason) {
    case StateReason::Startup:
      return "startup";
    case StateReason::AddressOwner:
      return "address owner (priority 255)";
    case StateReason::MasterDown:
      return "master down timer expired";
    case StateReason::HigherPriority:
      return "higher priority advert received";
    case StateReason::FaultRaised:
      return "fault raised";
    case StateReason::FaultCleared:
      return "fault cleared";
    case StateReason::Stopped:
      return "stopped";
  }
  return "?";
}

Status validate(const InstanceConfig& config) {
  if (config.vrid == 0) return Error{"invalid VRID 0 (must be 1-255)"};
  if (config.priority == 0) return Error{"invalid priority 0 (must be 1-255)"};
  if (std::string error = interval_error(config); !error.empty()) return Error{error};
  if (config.version == VrrpVersion::V2 && !config.primary_address.is_v4()) {
    return Error{"VRRPv2 needs an IPv4 primary address, got " + config.primary_address.to_string()};
  }
  if (config.preempt_delay < Time{0} || config.preempt_delay > kMaxPreemptDelay) {
    return Error{"invalid preempt_delay " + format_seconds(config.preempt_delay) +
                 " s (must be 0-1000 s)"};
  }
  return {};
}

Instance::Instance(const InstanceConfig& config)
    : config_(config), priority_(config.priority), master_adver_interval_(config.advert_interval) {}

Time Instance::skew_time() const {
  return core::skew_time(config_.version, priority_, master_adver_interval_);
}

Time Instance::master_down_interval() const {
  return core::master_down_interval(config_.version, priority_, master_adver_interval_);
}

bool Instance::preempt_active(Time now) const {
  return config_.preempt && now >= preempt_window_start_ + config_.preempt_delay;
}

ActionList Instance::start(Time now) {
  ActionList out;
  if (state_ != State::Initialize && state_ != State::Stopped) return out;
  preempt_window_start_ = now;
  master_adver_interval_ = config_.advert_interval;
  if (faults_ != 0) {
    change_state(State::Fault, StateReason::FaultRaised, out);
    arm(kNever, out);
    return out;
  }
  enter_service(now, StateReason::Startup, out);
  return out;
}

ActionList Instance::stop(Time) {
  ActionList out;
  if (state_ == State::Initialize || state_ == State::Stopped) return out;
  if (state_ == State::Master) leave_master(out);
  change_state(State::Stopped, StateReason::Stopped, out);
  arm(kNever, out);
  master_address_.reset();
  return out;
}

ActionList Instance::on_advert(Time now, const RxAdvert& advert) {
  if (advert.source == config_.primary_address) return {};  // our own, looped back
  if (state_ == State::Backup) return on_advert_as_backup(now, advert);
  if (state_ == State::Master) return on_advert_as_master(now, advert);
  return {};
}

ActionList Instance::on_advert_as_backup(Time now, const RxAdvert& advert) {
  ActionList out;
  if (advert.priority == kStopPriority) {
    out.push(Note{NoteKind::ReceivedPriorityZero, advert.source, advert.priority});
    arm(now + skew_time(), out);
    return out;
  }
  if (preempt_active(now) && advert.priority < priority_) {
    out.push(Note{NoteKind::LowerPriorityDiscarded, advert.source, advert.priority});
    return out;
  }
  if (config_.version == VrrpVersion::V3)
    master_adver_interval_ = from_centiseconds(advert.interval_cs);
  master_address_ = advert.source;
  arm(now + master_down_interval(), out);
  return out;
}

bool Instance::wins_against(const RxAdvert& advert) const {
  if (advert.priority != priority_) return priority_ > advert.priority;
  return config_.primary_address > advert.source;
}

ActionList Instance::on_advert_as_master(Time now, const RxAdvert& advert) {
  ActionList out;
  if (advert.priority == kStopPriority) {
    send_advert(now, priority_, out);
    return out;
  }
  if (wins_against(advert)) {
    out.push(Note{NoteKind::ForcingNewElection, advert.source, advert.priority});
    send_advert(now, priority_, out);
    return out;
  }
  out.push(Note{NoteKind::HigherPriorityHeard, advert.source, advert.priority});
  if (config_.version == VrrpVersion::V3)
    master_adver_interval_ = from_centiseconds(advert.interval_cs);
  out.push(RemoveVips{});
  change_state(State::Backup, StateReason::HigherPriority, out);
  master_address_ = advert.source;
  arm(now + master_down_interval(), out);
  return out;
}

ActionList Instance::on_timer(Time now) {
  ActionList out;
  if (deadline_ == kNever) return out;
  if (now < deadline_) {
    out.push(ArmTimer{deadline_});
    return out;
  }
  if (state_ == State::Backup) {
    out.push(Note{NoteKind::ReceiveTimeout, IpAddress{}, priority_});
    become_master(now, StateReason::MasterDown, out);
  } else if (state_ == State::Master) {
    send_advert(now, priority_, out);
  } else {
    arm(kNever, out);
  }
  return out;
}

ActionList Instance::raise_fault(Time, FaultReason reason) {
  ActionList out;
  const bool already_faulted = faults_ != 0;
  faults_ = static_cast<std::uint8_t>(faults_ | static_cast<std::uint8_t>(reason));
  if (already_faulted || state_ == State::Initialize || state_ == State::Stopped) return out;
  if (state_ == State::Master) leave_master(out);
  change_state(State::Fault, StateReason::FaultRaised, out);
  arm(kNever, out);
  master_address_.reset();
  return out;
}

ActionList Instance::clear_fault(Time now, FaultReason reason) {
  ActionList out;
  const auto bit = static_cast<std::uint8_t>(reason);
  if ((faults_ & bit) == 0) return out;
  faults_ = static_cast<std::uint8_t>(faults_ & ~bit);
  if (faults_ != 0 || state_ != State::Fault) return out;
  preempt_window_start_ = now;
  master_adver_interval_ = config_.advert_interval;
  enter_service(now, StateReason::FaultCleared, out);
  return out;
}

void Instance::set_priority(std::uint8_t effective_priority) {
  if (effective_priority != kStopPriority) priority_ = effective_priority;
}

void Instance::enter_service(Time now, StateReason reason, ActionList& out) {
  if (priority_ == kOwnerPriority) {
    become_master(now, reason == StateReason::Startup ? StateReason::AddressOwner : reason, out);
  } else {
    become_backup(now, reason, out);
  }
}

void Instance::become_master(Time now, StateReason reason, ActionList& out) {
  change_state(State::Master, reason, out);
  master_adver_interval_ = config_.advert_interval;
  master_address_ = config_.primary_address;
  out.push(SendAdvert{priority_});
  out.push(AddVips{});
  out.push(Announce{});
  arm(now + config_.advert_interval, out);
}

void Instance::become_backup(Time now, StateReason reason, ActionList& out) {
  change_state(State::Backup, reason, out);
  master_address_.reset();
  arm(now + master_down_interval(), out);
}

void Instance::leave_master(ActionList& out) {
  out.push(SendAdvert{kStopPriority});
  out.push(Note{NoteKind::SentPriorityZero, config_.primary_address, kStopPriority});
  out.push(RemoveVips{});
}

void Instance::change_state(State to, StateReason reason, ActionList& out) {
  out.push(StateChange{state_, to, reason});
  state_ = to;
}

void Instance::arm(Time at, ActionList& out) {
  deadline_ = at;
  out.push(ArmTimer{at});
}

void Instance::send_advert(Time now, std::uint8_t priority, ActionList& out) {
  out.push(SendAdvert{priority});
  arm(now + config_.advert_interval, out);
}

}  // namespace vipd::core
