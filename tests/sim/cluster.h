// The simulated machines as the simulator drives them and the checker reads them. Each machine runs
// the production per-node orchestration (node::Node) over its simulated receive path; the rest is
// the world: whether the process runs, which VIPs the machine holds, its environment (faults,
// priorities) and its timers on the simulated clock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "evidence.h"
#include "node/node.h"
#include "node/timer_id.h"
#include "planted_bug.h"
#include "receive_path.h"
#include "segment.h"
#include "vipd/core/source_filter.h"
#include "world.h"

namespace vipd::sim {

// One VRID on one machine, as the world sees it.
struct Slot {
  bool holds_vips = false;  // between carrying out AddVips and RemoveVips (or a crash)
  Time service_since{0};    // when it last entered service: start of the preempt_delay window
  // The environment, which outlives a crash: the daemon would find the same fault and the same
  // health-check weights after restarting.
  std::uint8_t fault_bits = 0;
  std::uint8_t effective_priority = 0;
};

struct Machine {
  Machine(const World& world, int n, ReceivePath path, std::uint8_t fixes, PlantedBug bug)
      : mac(machine_mac(n)), receive(world, path, fixes, bug), watch(mac) {}

  bool up = false;       // the process runs (false before its first start and while crashed)
  bool stopped = false;  // gracefully stopped: up, every instance in Stopped
  std::unique_ptr<node::Node> node;  // empty before the first start and while crashed
  core::MacAddress mac;
  SimReceivePath receive;
  // The kernel's source check (check_source; core::SourceFilter on the raw path), as the daemon
  // sets it from the node's commands: peers on PeersChanged, windows on OpenUnicastWindow, held
  // VIPs on AddVips / RemoveVips. Lost with a crash.
  core::SourceFilter filter;
  ClaimWatch watch;                           // the ARP / NA watch over the held VIPs
  std::vector<core::IpAddress> filter_peers;  // vipd_peers: the sources the kernel knows
  std::uint64_t not_peer_rejects = 0;
  std::vector<Slot> slots;
  std::vector<std::uint64_t> timer_tokens;  // per node::TimerId::index(): older events are stale
};

class Cluster {
 public:
  Cluster(const World& world, ReceivePath path, std::uint8_t fixes, PlantedBug bug)
      : world_(world), segment_(world) {
    machines_.reserve(static_cast<std::size_t>(world.node_count()));
    for (int n = 0; n < world.node_count(); ++n) {
      Machine& machine = machines_.emplace_back(world, n, path, fixes, bug);
      machine.slots.resize(static_cast<std::size_t>(world.vrid_count()));
      machine.timer_tokens.resize(static_cast<std::size_t>(world.vrid_count()) * node::kTimerKinds);
      for (int v = 0; v < world.vrid_count(); ++v) {
        machine.slots[v].effective_priority = config(n, v).priority;
      }
    }
    for (int v = 0; v < world.vrid_count(); ++v) {
      std::uint8_t lowest = core::kOwnerPriority;
      for (int n = 0; n < world.node_count(); ++n) lowest = std::min(lowest, config(n, v).priority);
      lowest_priority_.push_back(lowest);
    }
  }

  const World& world() const { return world_; }
  Segment& segment() { return segment_; }
  const Segment& segment() const { return segment_; }
  Machine& machine(int n) { return machines_[n]; }
  const Machine& machine(int n) const { return machines_[n]; }
  Slot& slot(int n, int v) { return machines_[n].slots[v]; }
  const Slot& slot(int n, int v) const { return machines_[n].slots[v]; }
  // The running instance of VRID slot `v` on machine `n`; only while the machine is up.
  const core::Instance& instance(int n, int v) const {
    return machines_[n].node->instance(static_cast<std::size_t>(v)).core;
  }
  // What the VRID was configured with; a planted bug may run the instance differently.
  const core::InstanceConfig& config(int n, int v) const { return world_.nodes[n].instances[v]; }

  // Running and not faulted: the only nodes the invariants expect anything of.
  bool healthy(int n, int v) const {
    if (!machines_[n].up || !machines_[n].node) return false;
    const core::State state = instance(n, v).state();
    return state == core::State::Backup || state == core::State::Master;
  }
  bool master(int n, int v) const {
    return healthy(n, v) && instance(n, v).state() == core::State::Master;
  }
  std::uint8_t priority(int n, int v) const { return instance(n, v).priority(); }
  // As configured (not as a planted bug runs it): when a Backup would refuse a lower master.
  bool preempt_active(int n, int v, Time now) const {
    const core::InstanceConfig& c = config(n, v);
    return c.preempt && now >= slot(n, v).service_since + c.preempt_delay;
  }

  void note_priority(int v, std::uint8_t priority) {
    lowest_priority_[v] = std::min(lowest_priority_[v], priority);
  }
  // The longest Master_Down_Interval any node of the VRID may have used so far in the run: the
  // one of the lowest priority any of them has had.
  Time max_master_down_interval(int v) const {
    const VridPlan& plan = world_.vrids[v];
    return core::master_down_interval(plan.version, lowest_priority_[v], plan.interval);
  }

 private:
  const World& world_;
  Segment segment_;
  std::vector<Machine> machines_;
  std::vector<std::uint8_t> lowest_priority_;
};

}  // namespace vipd::sim
