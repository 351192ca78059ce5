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
  head += config::transport_name(plan_);
  for (const core::IpAddress& peer : plan_.unicast_peers) {
    head += ' ';
    head += peer.to_string();
  }
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
  }
}

}  // namespace vipd::node
