// The timers a node owns: one of each kind per instance. The shell arms them on its clock and
// hands their expiry back as an input.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vipd::node {

enum class TimerKind : std::uint8_t {
  Protocol,          // the core's advert / Master_Down timer
  GarpRepeat,        // the second gratuitous ARP burst, garp_master_delay after becoming master
  GarpRefresh,       // periodic re-announcement while master (garp_master_refresh)
  PreemptWindowEnd,  // preempt_delay is over: adverts coalesced during it must count now
  ConflictProbe,     // while master: the next RFC 5227 probe of the VIPs
  Presence,          // while backup of a master learned over unicast: tell it we still listen
  PeerExpiry,        // node-wide (instance 0): forget silent learned peers
};
inline constexpr std::size_t kTimerKinds = 7;

struct TimerId {
  TimerKind kind = TimerKind::Protocol;
  std::size_t instance = 0;

  // Dense index for shells that keep one slot per timer.
  std::size_t index() const { return instance * kTimerKinds + static_cast<std::size_t>(kind); }
  friend bool operator==(const TimerId&, const TimerId&) = default;
};

}  // namespace vipd::node
