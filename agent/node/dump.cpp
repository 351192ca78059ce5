// SIGUSR1's state dump: what `vipd status` shows, as log lines from the node itself (keepalived
// writes /tmp/keepalived.data on SIGUSR1; vipd writes to its log, so the lines reach the journal
// or the pod log where operators already look). Nothing changes.
#include <string>

#include "node/node.h"

namespace vipd::node {
namespace {

std::string ms_text(core::Time t) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t).count()) + " ms";
}

std::string faults_text(std::uint8_t faults) {
  std::string text;
  for (const core::FaultReason reason :
       {core::FaultReason::InterfaceDown, core::FaultReason::AddressMissing,
        core::FaultReason::CheckFailed, core::FaultReason::VipRejected}) {
    if ((faults & static_cast<std::uint8_t>(reason)) == 0) continue;
    if (!text.empty()) text += ", ";
    text += core::to_string(reason);
  }
  return text.empty() ? "none" : text;
}

}  // namespace

void Node::on(const DumpState&) {
  // Built with += pieces: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + std::string.
  std::string head = "State dump: interface ";
  head += plan_.interface;
  head += ", source ";
  head += plan_.source.to_string();
  head += ", ";
  head += config::transport_name(plan_);  // the peers follow in the "Unicast peers:" line
  head += std::string(", instances ") + (started_ ? "started" : "waiting for the health check");
  head += ", check adjustment " + std::to_string(check_adjustment_);
  log(Level::Info, "state_dump", kNoInstance, std::move(head));
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    const InstanceState& instance = instances_[i];
    if (instance.retired) continue;
    const core::Instance& core = instance.core;
    std::string vips;
    for (const config::Vip& vip : instance.plan.vips) {
      if (!vips.empty()) vips += ',';
      vips += vip.address.to_string() + "/" + std::to_string(vip.prefix);
    }
    const auto master = core.master_address();
    std::string line =
        "(" + instance.plan.name + ") VRID " + std::to_string(instance.plan.core.vrid) + " " +
        std::string(core::to_string(core.state())) + " for " +
        ms_text(now_ - instance.state_since) + ", priority " + std::to_string(core.priority()) +
        " (base " + std::to_string(instance.base_priority) + "), master " +
        (master ? master->to_string() : std::string("unknown")) + ", VIPs " + vips +
        (instance.holds_vips ? " (held)" : " (not held)") + ", faults " +
        faults_text(instance.faults) + ", master down interval " +
        ms_text(core.master_down_interval()) + ", transitions " +
        std::to_string(instance.transitions) + ", adverts sent " +
        std::to_string(instance.adverts_sent) + ", heard " + std::to_string(instance.adverts_heard);
    log(Level::Info, "state_dump", i, std::move(line),
        {{"state", std::string(core::to_string(core.state()))},
         {"priority", std::to_string(core.priority())},
         {"holds_vips", instance.holds_vips ? "true" : "false"}});
    log(Level::Info, "state_dump", i, split_brain_text(i));
  }
  std::string peers = "Unicast peers:";
  for (const Peer& peer : peers_.peers()) {
    peers += ' ';
    peers += peer.address.to_string();
    peers += " (";
    peers += to_string(peer.source);
    peers += ')';
  }
  if (peers_.peers().empty()) peers += " none";
  log(Level::Info, "state_dump", kNoInstance, std::move(peers));
}

// Who the instance hears, the alone warning and the last second owner of a VIP, as `vipd status`
// shows them.
std::string Node::split_brain_text(std::size_t index) const {
  const InstanceState& instance = instances_[index];
  std::string text = "(";  // += pieces throughout: see the head line in on(DumpState)
  text += instance.plan.name;
  text += ") peers heard:";
  for (const PeerHeard& peer : instance.peers_heard) {
    text += ' ';
    text += peer.address.to_string();
    text += " (";
    text += ms_text(now_ - peer.last);
    text += " ago)";
  }
  if (instance.peers_heard.empty()) text += " none";
  text += instance.alone ? ", ALONE (hears no other node although peers are expected)" : "";
  text += ", split brains settled: vrrp ";
  text += std::to_string(instance.conflicts_vrrp);
  text += ", foreign ";
  text += std::to_string(instance.conflicts_foreign);
  if (!instance.conflict) {
    text += ", no conflict";
    return text;
  }
  const Conflict& conflict = *instance.conflict;
  text += ", last conflict: VIP ";
  text += conflict.vip.to_string();
  text += " held by ";
  text += core::to_string(conflict.mac);
  if (conflict.rival) {
    text += " (";
    text += conflict.rival->to_string();
    text += ')';
  }
  text += ", ";
  text += to_string(conflict.kind);
  text += ", ";
  text += ms_text(now_ - conflict.at);
  text += " ago";
  return text;
}

}  // namespace vipd::node
