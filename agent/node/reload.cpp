// Reload: a new, validated plan applied to the running node without disturbing what did not
// change. Instances are matched by VRID (the wire identity):
//   unchanged         nothing happens: same state, same timers, no advert gap;
//   priority changed  the new base priority applies (the check weight on top) and the next advert
//                     carries it, as keepalived's "Changing effective priority" does;
//   VIPs changed      exactly the added and removed addresses change on the host (if the instance
//                     holds its VIPs), without a state change; the added ones are announced;
//   renamed           the new name is used from now on;
//   removed           priority-0 handoff if MASTER, VIPs removed, STOP; the slot is retired;
//   added             starts like at startup (with the node-wide faults already raised);
//   otherwise changed (version, advert interval, preemption, authentication): removed and added
//                     again, since the running state machine's timers depend on them.
// Indices never move: an active instance keeps its slot, so the shell's TimerId::index() slots
// stay valid. A new instance takes a slot an earlier reload retired (its timers are disarmed, its
// last commands long carried out), else one appended; PlanReplaced names them, so the shell makes
// room and resets what it keeps per slot. Restarting an instance by reload 1000 times thus leaves
// the node, the shell's timer slots and counters the size they were.
#include <algorithm>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "node/node.h"

namespace vipd::node {
namespace {

constexpr std::uint8_t kNodeWideFaults =
    static_cast<std::uint8_t>(core::FaultReason::InterfaceDown) |
    static_cast<std::uint8_t>(core::FaultReason::AddressMissing) |
    static_cast<std::uint8_t>(core::FaultReason::CheckFailed);

constexpr core::FaultReason kFaultReasons[] = {
    core::FaultReason::InterfaceDown, core::FaultReason::AddressMissing,
    core::FaultReason::CheckFailed, core::FaultReason::VipRejected};

std::string seconds_text(core::Time t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  std::string text = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
    text += "." + fraction;
  }
  return text + " s";
}

std::string vip_text(const config::Vip& vip) {
  return vip.address.to_string() + "/" + std::to_string(vip.prefix);
}

// Settings of the node that the running daemon cannot change: one entry per setting, naming the
// old and new value where that helps.
std::vector<std::string> restart_needed(const config::Plan& now, const config::Plan& next) {
  std::vector<std::string> changed;
  if (now.interface != next.interface) {
    changed.push_back("interface (" + now.interface + " -> " + next.interface + ")");
  } else if (now.ifindex != next.ifindex) {
    changed.push_back("interface index of " + now.interface + " (the interface was re-created)");
  }
  if (now.source != next.source) {
    changed.push_back("source address (" + now.source.to_string() + " -> " +
                      next.source.to_string() + ")");
  }
  if (now.transport.multicast != next.transport.multicast) {
    changed.push_back("transport (" + std::string(config::transport_name(now)) + " -> " +
                      std::string(config::transport_name(next)) + ")");
  }
  // Names are resolved by the shell's resolver, started once with them.
  if (now.transport.peer_names != next.transport.peer_names ||
      now.transport.resolve_interval != next.transport.resolve_interval) {
    changed.push_back("unicast peer names");
  }
  if (now.mac != next.mac) changed.push_back("MAC address of " + now.interface);
  if (!(now.health == next.health)) changed.push_back("health check");
  if (!(now.firewall == next.firewall)) changed.push_back("firewall rule");
  if (now.use_bpf != next.use_bpf || now.xdp_mode != next.xdp_mode ||
      now.xdp_drop_invalid != next.xdp_drop_invalid || now.pin_path != next.pin_path ||
      now.bpffs_root != next.bpffs_root) {
    changed.push_back("eBPF data plane settings");
  }
  if (now.status_socket != next.status_socket) changed.push_back("status socket");
  if (now.metrics_address != next.metrics_address) {
    changed.push_back("metrics address (" + now.metrics_address + " -> " + next.metrics_address +
                      ")");
  }
  return changed;
}

// What makes the running state machine unusable for the new settings; empty when it can go on.
std::string identity_change(const config::InstancePlan& now, const config::InstancePlan& next) {
  const core::InstanceConfig& a = now.core;
  const core::InstanceConfig& b = next.core;
  if (a.version != b.version) return "VRRP version";
  if (a.advert_interval != b.advert_interval) {
    return "advert interval (" + seconds_text(a.advert_interval) + " -> " +
           seconds_text(b.advert_interval) + ")";
  }
  if (a.preempt != b.preempt || a.preempt_delay != b.preempt_delay) return "preemption";
  if (a.primary_address != b.primary_address) return "primary address";
  if (now.auth_type != next.auth_type || now.auth_key != next.auth_key) return "authentication";
  return {};
}

bool contains(const std::vector<config::Vip>& vips, const config::Vip& vip) {
  return std::find(vips.begin(), vips.end(), vip) != vips.end();
}

}  // namespace

void Node::on(const Reload& reload) {
  const config::Plan& next = reload.plan;
  if (const std::vector<std::string> changed = restart_needed(plan_, next); !changed.empty()) {
    std::string text = "Reload refused: ";
    for (std::size_t i = 0; i < changed.size(); ++i) text += (i == 0 ? "" : ", ") + changed[i];
    text +=
        " cannot change while vipd runs: restart vipd to apply; keeping the running "
        "configuration";
    log(Level::Error, "reload_refused", kNoInstance, std::move(text));
    return;
  }
  const std::size_t previous_size = instances_.size();
  // Slots retired by earlier reloads are free for this one's new instances; those it retires
  // itself are not: their stop commands below still name them.
  std::vector<std::size_t> free_slots;
  for (std::size_t i = 0; i < previous_size; ++i) {
    if (instances_[i].retired) free_slots.push_back(i);
  }
  const std::size_t replaced_at = out_.size();
  out_.push_back(PlanReplaced{});
  const std::uint8_t faults = node_wide_faults();
  const bool peers_changed = plan_.unicast_peers != next.unicast_peers ||
                             plan_.transport.allowed_sources != next.transport.allowed_sources;
  plan_ = next;  // garp, peers, split-brain settings and the notify script apply from here on
  if (peers_changed) {
    // Learned and resolved peers stay; the accepted sources follow the new list.
    peers_.set_configured(plan_.unicast_peers);
    out_.push_back(PeersChanged{});
  }

  std::vector<bool> matched(next.instances.size(), false);
  std::vector<const config::InstancePlan*> to_add;
  int unchanged = 0;
  int changed = 0;
  int removed = 0;
  for (std::size_t i = 0; i < previous_size; ++i) {
    if (instances_[i].retired) continue;
    const config::InstancePlan& now = instances_[i].plan;
    const auto found = std::find_if(next.instances.begin(), next.instances.end(),
                                    [&](const config::InstancePlan& candidate) {
                                      return candidate.core.vrid == now.core.vrid;
                                    });
    if (found == next.instances.end()) {
      retire(i, "removed from the configuration");
      ++removed;
      continue;
    }
    matched[static_cast<std::size_t>(found - next.instances.begin())] = true;
    if (const std::string what = identity_change(now, *found); !what.empty()) {
      retire(i, what + " changed: the instance restarts with the new settings");
      to_add.push_back(&*found);
      ++changed;
      continue;
    }
    const bool same = now.name == found->name && now.vips == found->vips &&
                      now.core.priority == found->core.priority &&
                      now.master_eligible == found->master_eligible && now.number == found->number;
    if (same) {
      ++unchanged;
      continue;
    }
    update_instance(i, *found);
    ++changed;
  }
  for (std::size_t j = 0; j < next.instances.size(); ++j) {
    if (!matched[j]) to_add.push_back(&next.instances[j]);
  }
  const auto new_instances = std::count(matched.begin(), matched.end(), false);
  std::vector<std::size_t> created;
  for (const config::InstancePlan* plan : to_add) {
    std::optional<std::size_t> slot;
    if (created.size() < free_slots.size()) slot = free_slots[created.size()];
    created.push_back(add_instance(*plan, faults, slot));
  }
  std::get<PlanReplaced>(out_[replaced_at]).created = std::move(created);
  log(Level::Info, "reload", kNoInstance,
      "Reloaded the configuration: " + std::to_string(unchanged) + " instance(s) unchanged, " +
          std::to_string(changed) + " changed, " + std::to_string(new_instances) + " added, " +
          std::to_string(removed) + " removed",
      {{"unchanged", std::to_string(unchanged)},
       {"changed", std::to_string(changed)},
       {"added", std::to_string(new_instances)},
       {"removed", std::to_string(removed)}});
}

std::uint8_t Node::node_wide_faults() const {
  std::uint8_t faults = kNodeWideFaults;
  bool any = false;
  for (const InstanceState& instance : instances_) {
    if (instance.retired) continue;
    faults = static_cast<std::uint8_t>(faults & instance.faults);
    any = true;
  }
  return any ? faults : 0;
}

void Node::retire(std::size_t index, const std::string& why) {
  InstanceState& instance = instances_[index];
  log(Level::Info, "reload_instance", index,
      "(" + instance.plan.name + ") " + why + (instance.holds_vips ? ": priority 0, VIPs go" : ""));
  if (instance.core.state() != core::State::Initialize) catch_up(index);
  execute(index, instance.core.stop(now_));
  instance.retired = true;
  for (const TimerKind kind :
       {TimerKind::Protocol, TimerKind::GarpRepeat, TimerKind::GarpRefresh,
        TimerKind::PreemptWindowEnd, TimerKind::ConflictProbe, TimerKind::Presence}) {
    set_timer(kind, index, core::kNever);
  }
  const std::uint8_t vrid = instance.plan.core.vrid;
  if (by_vrid_[vrid] == static_cast<int>(index) + 1) by_vrid_[vrid] = 0;
}

std::size_t Node::add_instance(const config::InstancePlan& plan, std::uint8_t node_faults,
                               std::optional<std::size_t> slot) {
  // A free slot is reused: 1000 instance restarts through reload must not grow the node (nor the
  // shell's timer slots and counters) by 1000 instances.
  const std::size_t index = slot.value_or(instances_.size());
  if (slot) {
    instances_[index] = InstanceState(plan, core::Instance(plan.core));
  } else {
    instances_.emplace_back(plan, core::Instance(plan.core));
  }
  InstanceState& instance = instances_[index];
  instance.base_priority = plan.core.priority;
  by_vrid_[plan.core.vrid] = static_cast<int>(index) + 1;
  log(Level::Info, "reload_instance", index,
      "(" + plan.name + ") added by reload (VRID " + std::to_string(plan.core.vrid) + ")");
  // The node-wide faults hold for a new instance too; start() then enters FAULT.
  for (const core::FaultReason reason : kFaultReasons) {
    const auto bit = static_cast<std::uint8_t>(reason);
    if ((node_faults & bit) == 0) continue;
    instances_[index].faults = static_cast<std::uint8_t>(instances_[index].faults | bit);
    execute(index, instances_[index].core.raise_fault(now_, reason));
  }
  update_priority(index);
  if (!started_) return index;  // start_instances() starts it with the others
  instances_[index].state_since = now_;
  catch_up(index);
  execute(index, instances_[index].core.start(now_));
  return index;
}

void Node::update_instance(std::size_t index, const config::InstancePlan& next) {
  InstanceState& instance = instances_[index];
  const config::InstancePlan previous = instance.plan;
  std::vector<config::Vip> removed;
  std::vector<config::Vip> added;
  for (const config::Vip& vip : previous.vips) {
    if (!contains(next.vips, vip)) removed.push_back(vip);
  }
  for (const config::Vip& vip : next.vips) {
    if (!contains(previous.vips, vip)) added.push_back(vip);
  }
  // The new list first: the shell and VipMissing read it while carrying out what follows.
  instance.plan = next;
  if (previous.name != next.name) {
    log(Level::Info, "reload_instance", index,
        "(" + next.name + ") renamed by reload (was " + previous.name + ")");
  }
  for (const config::Vip& vip : removed) {
    log(Level::Info, "reload_vip", index,
        "(" + next.name + ") VIP " + vip_text(vip) + " removed by reload" +
            (instance.holds_vips ? ": removing it from " + plan_.interface : ""));
  }
  for (const config::Vip& vip : added) {
    log(Level::Info, "reload_vip", index,
        "(" + next.name + ") VIP " + vip_text(vip) + " added by reload" +
            (instance.holds_vips ? ": adding it to " + plan_.interface : ""));
  }
  if (instance.holds_vips) {
    if (!removed.empty()) out_.push_back(RemoveAddresses{index, removed});
    if (!added.empty()) {
      out_.push_back(AddAddresses{index, added});
      announce(index, Burst::VipsAdded);
    }
  }
  // A VIP the host refused may be gone from the list now: the instance may try again.
  if ((!removed.empty() || !added.empty()) &&
      (instance.faults & static_cast<std::uint8_t>(core::FaultReason::VipRejected)) != 0) {
    set_fault(core::FaultReason::VipRejected, false, index);
  }
  if (next.core.priority != instance.base_priority) {
    instance.base_priority = next.core.priority;
    update_priority(index);
  }
}

}  // namespace vipd::node
