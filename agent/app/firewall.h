#pragma once
// The host-firewall rules that let VRRP adverts in when they arrive through the raw socket
// (ipfailover's OPENSHIFT_HA_IPTABLES_CHAIN and OPENSHIFT_HA_NFTABLES_RULE). Each rule is tagged
// with the interface, so a restarted vipd replaces what a killed one left behind, and a vipd on
// another interface of the same host keeps its own rule when this one stops.

#include <functional>
#include <string>
#include <vector>

#include "config/plan.h"
#include "vipd/core/result.h"

namespace vipd::app {

using Argv = std::vector<std::string>;

struct FirewallCommands {
  Argv add;
  Argv remove;                    // undoes `add`, run at stop
  bool remove_leftovers = false;  // first run `remove` until it fails: one copy per killed run
};

inline constexpr int kMaxStaleRules = 16;

// iptables (ip6tables for IPv6): `-I <chain> 1 -d <group> -p 112 -m comment --comment "vipd <if>"
// -j ACCEPT`.
FirewallCommands iptables_commands(const std::string& chain, const std::string& interface,
                                   bool ipv4);

// nftables: table inet vipd_<if> (characters other than [A-Za-z0-9_] become '_') with one input
// chain accepting VRRP to the group; created in one transaction that first drops any leftover.
FirewallCommands nftables_commands(const std::string& interface, bool ipv4);

std::string nftables_table(const std::string& interface);

class VrrpFirewall {
 public:
  // Runs a command to completion; ok, or why it failed.
  using Runner = std::function<core::Status(const Argv&)>;

  explicit VrrpFirewall(Runner runner) : runner_(std::move(runner)) {}
  VrrpFirewall(const VrrpFirewall&) = delete;
  VrrpFirewall& operator=(const VrrpFirewall&) = delete;

  // Installs what `plan` asks for; failures are logged, the daemon runs on without the rule.
  void open(const config::FirewallPlan& plan, const std::string& interface, bool ipv4);
  void close();
  // The commands close() will run, for the state file (`vipd cleanup` runs them after a crash).
  const std::vector<Argv>& undo() const { return undo_; }

 private:
  void apply(const FirewallCommands& commands, const std::string& what);

  Runner runner_;
  std::vector<Argv> undo_;
};

}  // namespace vipd::app
