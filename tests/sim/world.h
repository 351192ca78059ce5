// The per-seed configuration of a simulated cluster: nodes, VRIDs, priorities, preemption, timers
// and link delays, all drawn from the seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rng.h"
#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/timing.h"

namespace vipd::sim {

using core::Time;

inline constexpr int kMinNodes = 2;
inline constexpr int kMaxNodes = 7;
// VIPs per VRID: each VRID draws 1 to kMaxVips, and every advert buffer holds that many.
inline constexpr int kMaxVips = 3;

enum class PreemptMode : std::uint8_t { Preempt, NoPreempt, PreemptDelay, Mixed };
enum class PriorityMode : std::uint8_t { Distinct, Ties, Owner };

struct VridPlan {
  std::uint8_t vrid = 1;
  core::VrrpVersion version = core::VrrpVersion::V3;
  core::Family family = core::Family::V4;
  Time interval{};
  core::AuthType auth_type = core::AuthType::None;  // v2 only
  core::AuthKey auth_key{};
  core::V3Checksum v3_checksum = core::V3Checksum::PseudoHeader;
  PreemptMode preempt_mode = PreemptMode::Preempt;
  PriorityMode priority_mode = PriorityMode::Distinct;
  std::vector<core::IpAddress> vips;

  core::Expectation expectation() const;
  // Every node of this VRID has preempt off and none is the address owner, who preempts anyway.
  bool strictly_nopreempt = false;
};

struct NodePlan {
  core::IpAddress v4;
  core::IpAddress v6;
  std::vector<core::InstanceConfig> instances;  // one per VridPlan, same order
};

struct World {
  std::vector<VridPlan> vrids;
  std::vector<NodePlan> nodes;
  std::vector<std::vector<Time>> link_delay;  // [from][to], before jitter
  Time jitter_cap{};                          // jitter is drawn from [0, current], current <= cap
  Time max_delay{};                           // largest one-way delay including jitter
  Time time_grid{};  // when set, scenario actions happen on multiples of it
  Time unit{};       // largest advert interval: scenario lengths scale with it
  int rounds = 1;

  int node_count() const { return static_cast<int>(nodes.size()); }
  int vrid_count() const { return static_cast<int>(vrids.size()); }
  const core::IpAddress& primary(int node, core::Family family) const {
    return family == core::Family::V4 ? nodes[node].v4 : nodes[node].v6;
  }
  std::string describe() const;
};

// Always draws the node count first, so `--nodes K` with the K a seed picked replays that seed.
World draw_world(Rng& rng, std::optional<int> node_count);

std::string format_time(Time t);  // seconds with nanosecond digits: "12.345678901s"

}  // namespace vipd::sim
