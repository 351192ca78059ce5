// The simulated nodes as the simulator drives them and the checker reads them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "planted_bug.h"
#include "segment.h"
#include "world.h"

namespace vipd::sim {

// One VRID on one node.
struct Slot {
  std::optional<MutatedInstance> instance;  // empty before the first start and while crashed
  std::uint64_t timer_token = 0;  // bumped by every ArmTimer: older timer events are stale
  bool holds_vips = false;        // between AddVips and RemoveVips (or a crash)
  Time service_since{0};          // when it last entered service: start of the preempt_delay window
  // The environment, which outlives a crash: the daemon would find the same fault and the same
  // health-check weights after restarting.
  std::uint8_t fault_bits = 0;
  std::uint8_t effective_priority = 0;
};

struct Node {
  bool up = false;       // the process runs (false before its first start and while crashed)
  bool stopped = false;  // gracefully stopped: up, every instance in Stopped
  std::vector<Slot> slots;
};

class Cluster {
 public:
  explicit Cluster(const World& world) : world_(world), segment_(world) {
    nodes_.resize(static_cast<std::size_t>(world.node_count()));
    for (int n = 0; n < world.node_count(); ++n) {
      nodes_[n].slots.resize(static_cast<std::size_t>(world.vrid_count()));
      for (int v = 0; v < world.vrid_count(); ++v) {
        nodes_[n].slots[v].effective_priority = config(n, v).priority;
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
  Node& node(int n) { return nodes_[n]; }
  const Node& node(int n) const { return nodes_[n]; }
  Slot& slot(int n, int v) { return nodes_[n].slots[v]; }
  const Slot& slot(int n, int v) const { return nodes_[n].slots[v]; }
  // What the VRID was configured with; a planted bug may run the instance differently.
  const core::InstanceConfig& config(int n, int v) const { return world_.nodes[n].instances[v]; }

  // Running and not faulted: the only nodes the invariants expect anything of.
  bool healthy(int n, int v) const {
    const Slot& s = slot(n, v);
    if (!nodes_[n].up || !s.instance) return false;
    const core::State state = s.instance->core().state();
    return state == core::State::Backup || state == core::State::Master;
  }
  bool master(int n, int v) const {
    return healthy(n, v) && slot(n, v).instance->core().state() == core::State::Master;
  }
  std::uint8_t priority(int n, int v) const { return slot(n, v).instance->core().priority(); }
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
  std::vector<Node> nodes_;
  std::vector<std::uint8_t> lowest_priority_;
};

}  // namespace vipd::sim
