#include "app/firewall.h"

#include <spdlog/spdlog.h>

namespace vipd::app {
namespace {

std::string vrrp_group(bool ipv4) {
  return ipv4 ? "224.0.0.18/32" : "ff02::12/128";
}

}  // namespace

FirewallCommands iptables_commands(const std::string& chain, const std::string& interface,
                                   bool ipv4) {
  const std::string tool = ipv4 ? "/usr/sbin/iptables" : "/usr/sbin/ip6tables";
  const Argv rule = {"-d",        vrrp_group(ipv4),    "-p", "112",   "-m", "comment",
                     "--comment", "vipd " + interface, "-j", "ACCEPT"};
  FirewallCommands commands;
  commands.add = {tool, "-w", "5", "-I", chain, "1"};
  commands.add.insert(commands.add.end(), rule.begin(), rule.end());
  commands.remove = {tool, "-w", "5", "-D", chain};
  commands.remove.insert(commands.remove.end(), rule.begin(), rule.end());
  commands.remove_leftovers = true;
  return commands;
}

std::string nftables_table(const std::string& interface) {
  std::string name = "vipd_" + interface;
  for (char& c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!keep) c = '_';
  }
  return name;
}

FirewallCommands nftables_commands(const std::string& interface, bool ipv4) {
  const std::string table = "inet " + nftables_table(interface);
  const std::string match = std::string(ipv4 ? "ip" : "ip6") + " daddr " + vrrp_group(ipv4);
  FirewallCommands commands;
  // One transaction: the add-then-delete pair removes a killed run's table (and is harmless when
  // there is none), so the rule is never missing in between and never doubled.
  commands.add = {"/usr/sbin/nft",
                  "add table " + table + "; delete table " + table + "; add table " + table +
                      " { chain input { type filter hook input priority -10; policy accept; " +
                      match + " meta l4proto 112 accept; }; }"};
  commands.remove = {"/usr/sbin/nft", "delete table " + table};
  return commands;
}

void VrrpFirewall::open(const config::FirewallPlan& plan, const std::string& interface, bool ipv4) {
  if (!plan.iptables_chain.empty()) {
    apply(iptables_commands(plan.iptables_chain, interface, ipv4),
          "iptables chain " + plan.iptables_chain);
  }
  if (plan.nftables)
    apply(nftables_commands(interface, ipv4), "nftables table inet " + nftables_table(interface));
}

void VrrpFirewall::apply(const FirewallCommands& commands, const std::string& what) {
  int stale = 0;
  while (commands.remove_leftovers && stale < kMaxStaleRules && runner_(commands.remove).ok()) {
    ++stale;
  }
  if (stale > 0)
    spdlog::info("Removed {} VRRP accept rule(s) left in {} by an earlier run", stale, what);
  if (core::Status status = runner_(commands.add); !status) {
    spdlog::error("cannot add the VRRP accept rule to {}: {}", what, status.message());
    return;
  }
  undo_.push_back(commands.remove);
  spdlog::info("Accepting VRRP in {} (raw-socket mode)", what);
}

void VrrpFirewall::close() {
  for (const Argv& argv : undo_) {
    if (core::Status status = runner_(argv); !status)
      spdlog::warn("firewall cleanup: {}", status.message());
  }
  undo_.clear();
}

}  // namespace vipd::app
