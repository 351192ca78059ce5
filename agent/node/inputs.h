// Everything that can happen to a node: the inputs Node::handle() turns into commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/plan.h"
#include "node/receive_path.h"
#include "node/timer_id.h"
#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"

namespace vipd::node {

// Enter service. With a health check the instances wait for its first answer, like keepalived.
// After Shutdown it starts them again (the simulator's resume; the daemon exits instead).
struct Start {};

// Graceful stop: priority-0 adverts, then the VIPs go.
struct Shutdown {};

struct TimerExpired {
  TimerId timer;
};

// The receive path has records waiting (ring buffer or raw socket readable).
struct AdvertsPending {};

// A fault raised or cleared for one instance, or for all of them (nullopt).
struct FaultChanged {
  core::FaultReason reason = core::FaultReason::InterfaceDown;
  bool raised = true;
  std::optional<std::size_t> instance;
};

// The node's health check answered (after its rise/fall counting).
struct CheckResult {
  bool passed = true;
  std::string detail;
};

// A VIP we hold disappeared from the interface (someone removed it).
struct VipMissing {
  core::IpAddress address;
};

// The shell could not add an instance's VIP: without its address it must not stay MASTER.
struct VipAddFailed {
  std::size_t instance = 0;
  std::string error;
};

// The shell added an instance's VIPs (AddVips carried out): the announcement of a new master goes
// out only now, so a VIP the host refused (VipAddFailed instead) is never announced.
struct VipsAdded {
  std::size_t instance = 0;
};

// A new base priority for one instance (reload); the check weight still applies on top.
struct SetBasePriority {
  std::size_t instance = 0;
  std::uint8_t priority = 100;
};

// The addresses the configured peer names resolve to now (all names together).
struct PeersResolved {
  std::vector<core::IpAddress> addresses;
};

// SIGUSR1: the node's state as log lines (like `vipd status`), nothing else changes.
struct DumpState {};

// A new plan, already validated (check-config's code). Unchanged instances carry on untouched,
// changed ones apply the change in place (priority, VIP list), removed ones hand off with priority
// 0, added ones start (node/reload.cpp). Settings that cannot change while running (interface,
// source, transport, health check, data plane) leave the running plan in place, with a log line.
struct Reload {
  config::Plan plan;
};

// VipClaimed (receive_path.h) is an input too: the raw-socket path's ARP/NA listener reports it
// directly; on the XDP path it arrives through the ring buffer.
using Input = std::variant<Start, Shutdown, TimerExpired, AdvertsPending, FaultChanged, CheckResult,
                           VipMissing, VipAddFailed, VipsAdded, SetBasePriority, VipClaimed,
                           PeersResolved, DumpState, Reload>;

}  // namespace vipd::node
