// Test-only mutation layer: plants a known protocol bug around the real core without touching it,
// so each invariant checker can be shown to catch the bug it exists for. Two bugs act outside the
// instance, in the simulator: TimerSkipsKernelRecord (the agent) and EncodeWrongVip (the harness).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "vipd/core/instance.h"

namespace vipd::sim {

enum class PlantedBug : std::uint8_t {
  None,
  IgnorePriorityZero,       // receivers drop priority-0 adverts (graceful stop waits a full MDI)
  BackupIgnoresMasterDown,  // a Backup that has heard a master never acts on its timer
  MasterIgnoresHigherPriority,  // a Master drops adverts that should make it step down
  BackupAcceptsLowerPriority,   // a preempting Backup resets its timer on lower-priority adverts
  IgnoreNopreempt,              // instances run with preempt on whatever the configuration says
  NeverRemoveVips,              // RemoveVips is never executed
  // Acts on the coalesced receive path only (the agent around the kernel record): a timer expiry
  // neither drains the ring buffer nor feeds the record before the core sees it.
  TimerSkipsKernelRecord,
  // A fault of the simulator's send side, not of the protocol: each advert carries the sender's
  // primary address in place of its VRID's last VIP, so what arrives is not what the VRID sends.
  EncodeWrongVip,
};

std::string_view to_string(PlantedBug bug);
std::optional<PlantedBug> parse_planted_bug(std::string_view name);
std::span<const PlantedBug> planted_bugs();  // every bug, without None

// Same interface as core::Instance for what the simulator calls; forwards to a real Instance.
class MutatedInstance {
 public:
  MutatedInstance(const core::InstanceConfig& config, PlantedBug bug);

  core::ActionList start(core::Time now) { return filter(instance_.start(now)); }
  core::ActionList stop(core::Time now) { return filter(instance_.stop(now)); }
  core::ActionList on_advert(core::Time now, const core::RxAdvert& advert);
  core::ActionList on_timer(core::Time now);
  core::ActionList raise_fault(core::Time now, core::FaultReason reason) {
    return filter(instance_.raise_fault(now, reason));
  }
  core::ActionList clear_fault(core::Time now, core::FaultReason reason) {
    return filter(instance_.clear_fault(now, reason));
  }
  core::ActionList set_priority(core::Time now, std::uint8_t priority) {
    return filter(instance_.set_priority(now, priority));
  }

  const core::Instance& core() const { return instance_; }

 private:
  core::ActionList filter(const core::ActionList& actions) const;
  bool beaten_by(const core::RxAdvert& advert) const;

  core::Instance instance_;
  PlantedBug bug_;
};

}  // namespace vipd::sim
