#include "world.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <set>

namespace vipd::sim {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Advert intervals a seed scales its timings from; 1 s seeds may run VRRPv2.
constexpr std::array<Time, 8> kIntervalScales = {10ms,  20ms,  30ms,  50ms,
                                                 100ms, 200ms, 500ms, 1000ms};

core::IpAddress v6_address(std::uint16_t group, std::uint16_t host) {
  std::array<std::uint8_t, 16> bytes = {0xfd, 0x00, 0x01, 0x98, 0x00, 0x18};
  bytes[6] = static_cast<std::uint8_t>(group >> 8);
  bytes[7] = static_cast<std::uint8_t>(group);
  bytes[14] = static_cast<std::uint8_t>(host >> 8);
  bytes[15] = static_cast<std::uint8_t>(host);
  return core::IpAddress::from_bytes(core::Family::V6, bytes.data());
}

std::vector<std::uint8_t> distinct_values(Rng& rng, std::size_t count, int lo, int hi) {
  std::set<int> used;
  std::vector<std::uint8_t> values;
  while (values.size() < count) {
    const int value = static_cast<int>(rng.between(lo, hi));
    if (used.insert(value).second) values.push_back(static_cast<std::uint8_t>(value));
  }
  return values;
}

std::vector<std::uint8_t> draw_priorities(Rng& rng, PriorityMode mode, std::size_t nodes) {
  switch (mode) {
    case PriorityMode::Distinct:
      return distinct_values(rng, nodes, 1, 254);
    case PriorityMode::Ties: {
      // keepalived's default of 100 everywhere, or two levels: ties broken by address only.
      const bool all_default = rng.chance(0.3);
      std::vector<std::uint8_t> values;
      for (std::size_t i = 0; i < nodes; ++i) {
        values.push_back(all_default || rng.chance(0.5) ? std::uint8_t{100} : std::uint8_t{150});
      }
      return values;
    }
    case PriorityMode::Owner: {
      std::vector<std::uint8_t> values = distinct_values(rng, nodes, 1, 254);
      values[rng.index(nodes)] = core::kOwnerPriority;
      return values;
    }
  }
  return {};
}

VridPlan draw_vrid(Rng& rng, std::uint8_t vrid, Time scale) {
  VridPlan plan;
  plan.vrid = vrid;
  plan.interval = rng.chance(0.5) && scale < 1000ms ? 2 * scale : scale;
  plan.version =
      plan.interval == 1000ms && rng.chance(0.6) ? core::VrrpVersion::V2 : core::VrrpVersion::V3;
  plan.family = plan.version == core::VrrpVersion::V3 && rng.chance(0.25) ? core::Family::V6
                                                                          : core::Family::V4;
  if (plan.version == core::VrrpVersion::V2 && rng.chance(0.4)) {
    plan.auth_type = core::AuthType::SimplePassword;
    plan.auth_key = core::make_auth_key("vipd-sim");
  }
  if (plan.version == core::VrrpVersion::V3 && plan.family == core::Family::V4 && rng.chance(0.3)) {
    plan.v3_checksum = core::V3Checksum::MessageOnly;
  }
  const double preempt_draw = rng.unit();
  plan.preempt_mode = preempt_draw < 0.4    ? PreemptMode::Preempt
                      : preempt_draw < 0.65 ? PreemptMode::NoPreempt
                      : preempt_draw < 0.8  ? PreemptMode::PreemptDelay
                                            : PreemptMode::Mixed;
  const double priority_draw = rng.unit();
  plan.priority_mode = priority_draw < 0.5   ? PriorityMode::Distinct
                       : priority_draw < 0.8 ? PriorityMode::Ties
                                             : PriorityMode::Owner;
  const auto vip_count = static_cast<int>(rng.between(1, kMaxVips));
  for (int k = 1; k <= vip_count; ++k) {
    if (plan.family == core::Family::V4) {
      plan.vips.push_back(core::IpAddress::v4(0xC6130000u | std::uint32_t{vrid} << 8 | k));
    } else {
      plan.vips.push_back(
          v6_address(static_cast<std::uint16_t>(0x100 + vrid), static_cast<std::uint16_t>(k)));
    }
  }
  return plan;
}

core::InstanceConfig draw_instance(Rng& rng, const VridPlan& plan, std::uint8_t priority,
                                   const core::IpAddress& primary) {
  core::InstanceConfig config;
  config.vrid = plan.vrid;
  config.version = plan.version;
  config.priority = priority;
  config.advert_interval = plan.interval;
  config.primary_address = primary;
  PreemptMode mode = plan.preempt_mode;
  if (mode == PreemptMode::Mixed) {
    mode = std::array{PreemptMode::Preempt, PreemptMode::NoPreempt,
                      PreemptMode::PreemptDelay}[rng.index(3)];
  }
  config.preempt = mode != PreemptMode::NoPreempt;
  if (mode == PreemptMode::PreemptDelay) {
    // keepalived takes whole seconds; the core takes any duration, scaled here to the interval.
    config.preempt_delay = rng.time_between(plan.interval / 2, 4 * plan.interval);
  }
  return config;
}

const char* to_text(PreemptMode mode) {
  switch (mode) {
    case PreemptMode::Preempt:
      return "preempt";
    case PreemptMode::NoPreempt:
      return "nopreempt";
    case PreemptMode::PreemptDelay:
      return "preempt_delay";
    case PreemptMode::Mixed:
      return "mixed";
  }
  return "?";
}

const char* to_text(PriorityMode mode) {
  switch (mode) {
    case PriorityMode::Distinct:
      return "distinct";
    case PriorityMode::Ties:
      return "ties";
    case PriorityMode::Owner:
      return "owner";
  }
  return "?";
}

}  // namespace

core::Expectation VridPlan::expectation() const {
  core::Expectation expectation;
  expectation.version = version;
  expectation.family = family;
  expectation.auth_type = auth_type;
  expectation.auth_key = auth_key;
  expectation.v2_interval_s = version == core::VrrpVersion::V2
                                  ? static_cast<std::uint16_t>(interval / std::chrono::seconds(1))
                                  : std::uint16_t{0};
  return expectation;
}

World draw_world(Rng& rng, std::optional<int> node_count) {
  const auto drawn_nodes = static_cast<int>(rng.between(kMinNodes, kMaxNodes));
  const int nodes = node_count.value_or(drawn_nodes);
  World world;
  world.rounds = static_cast<int>(rng.between(1, 3));
  const Time scale =
      rng.chance(0.3) ? Time(1000ms) : kIntervalScales[rng.index(kIntervalScales.size())];

  const std::vector<std::uint8_t> hosts =
      distinct_values(rng, static_cast<std::size_t>(nodes), 1, 250);
  world.nodes.resize(static_cast<std::size_t>(nodes));
  for (int n = 0; n < nodes; ++n) {
    const std::uint32_t subnet = static_cast<std::uint32_t>(rng.between(0, 3));
    world.nodes[n].v4 = core::IpAddress::v4(0xC6120000u | subnet << 8 | hosts[n]);
    world.nodes[n].v6 = v6_address(0, static_cast<std::uint16_t>(subnet << 8 | hosts[n]));
  }

  const std::size_t vrid_count = rng.chance(0.5) ? 2 : 1;
  const std::vector<std::uint8_t> vrids = distinct_values(rng, vrid_count, 1, 255);
  for (const std::uint8_t vrid : vrids) {
    VridPlan plan = draw_vrid(rng, vrid, scale);
    const std::vector<std::uint8_t> priorities =
        draw_priorities(rng, plan.priority_mode, static_cast<std::size_t>(nodes));
    bool strictly_nopreempt = true;
    for (int n = 0; n < nodes; ++n) {
      const core::InstanceConfig config =
          draw_instance(rng, plan, priorities[n], world.primary(n, plan.family));
      strictly_nopreempt =
          strictly_nopreempt && !config.preempt && config.priority != core::kOwnerPriority;
      world.nodes[n].instances.push_back(config);
    }
    plan.strictly_nopreempt = strictly_nopreempt;
    world.unit = std::max(world.unit, plan.interval);
    world.vrids.push_back(std::move(plan));
  }

  Time smallest_interval = world.unit;
  for (const VridPlan& plan : world.vrids)
    smallest_interval = std::min(smallest_interval, plan.interval);
  // Delays stay under the advert interval; the bounds in docs/SIMULATOR.md assume that. A fifth of
  // the seeds run a slow, jittery segment (one-way delay up to half an interval); another fifth
  // put every scenario action and link delay on a coarse grid without jitter, so that timers,
  // arrivals and actions fall on the same instant.
  const double network_draw = rng.unit();
  const bool slow = network_draw < 0.2;
  if (network_draw >= 0.8) world.time_grid = smallest_interval / 20;
  const Time delay_cap = slow ? smallest_interval / 4 : smallest_interval / 20;
  world.jitter_cap =
      world.time_grid > Time{0}
          ? Time{0}
          : rng.time_between(Time{0}, slow ? smallest_interval / 4 : smallest_interval / 10);
  world.link_delay.assign(static_cast<std::size_t>(nodes),
                          std::vector<Time>(static_cast<std::size_t>(nodes)));
  Time largest_link{0};
  for (int from = 0; from < nodes; ++from) {
    for (int to = 0; to < nodes; ++to) {
      Time& delay = world.link_delay[from][to];
      delay = world.time_grid > Time{0} ? world.time_grid * rng.between(1, 2)
                                        : rng.time_between(smallest_interval / 200, delay_cap);
      largest_link = std::max(largest_link, delay);
    }
  }
  world.max_delay = largest_link + world.jitter_cap;
  return world;
}

std::string format_time(Time t) {
  const auto ns = t.count();
  char text[40];
  std::snprintf(text, sizeof text, "%lld.%09llds", static_cast<long long>(ns / 1'000'000'000),
                static_cast<long long>(ns % 1'000'000'000));
  return text;
}

std::string World::describe() const {
  std::string text = std::to_string(nodes.size()) + " nodes, " + std::to_string(rounds) +
                     " round(s), max one-way delay " + format_time(max_delay) + " (jitter cap " +
                     format_time(jitter_cap) + ")" +
                     (time_grid > Time{0} ? ", time grid " + format_time(time_grid) : "") + "\n";
  for (std::size_t v = 0; v < vrids.size(); ++v) {
    const VridPlan& plan = vrids[v];
    text += "  vrid " + std::to_string(plan.vrid) + ": VRRPv" +
            std::to_string(static_cast<int>(plan.version)) +
            (plan.family == core::Family::V4 ? " IPv4" : " IPv6") + ", interval " +
            format_time(plan.interval) + ", " + to_text(plan.preempt_mode) + ", priorities " +
            to_text(plan.priority_mode) +
            (plan.auth_type == core::AuthType::SimplePassword ? ", auth PASS" : "") +
            (plan.v3_checksum == core::V3Checksum::MessageOnly ? ", RFC 9568 checksum" : "") + "\n";
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const core::InstanceConfig& config = nodes[n].instances[v];
      text += "    n" + std::to_string(n) + " " + config.primary_address.to_string() +
              " priority " + std::to_string(config.priority) +
              (config.preempt ? " preempt" : " nopreempt");
      if (config.preempt_delay > Time{0}) text += " delay " + format_time(config.preempt_delay);
      text += "\n";
    }
  }
  return text;
}

}  // namespace vipd::sim
