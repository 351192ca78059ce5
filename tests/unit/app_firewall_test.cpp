// The VRRP accept rules of raw-socket mode: exact commands, leftovers of a killed run replaced,
// only our own rule removed at stop. (The commands are run for real in the integration suite.)
#include "app/firewall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vipd::app {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records every command; `fails(argv)` says whether the fake tool fails on it.
struct FakeTools {
  std::vector<Argv> ran;
  std::function<bool(const Argv&)> fails = [](const Argv&) { return false; };

  VrrpFirewall::Runner runner() {
    return [this](const Argv& argv) {
      ran.push_back(argv);
      return fails(argv) ? core::Status(core::Error{"exited with status 1"}) : core::Status();
    };
  }
};

bool is_delete(const Argv& argv) {
  return argv.size() > 3 && argv[3] == "-D";
}

config::FirewallPlan iptables_plan(std::string chain) {
  config::FirewallPlan plan;
  plan.iptables_chain = std::move(chain);
  return plan;
}

TEST(IptablesCommands, InsertFirstInTheChainTaggedWithTheInterface) {
  const FirewallCommands commands = iptables_commands("INPUT", "eth0", true);
  EXPECT_THAT(commands.add, ElementsAre("/usr/sbin/iptables", "-w", "5", "-I", "INPUT", "1", "-d",
                                        "224.0.0.18/32", "-p", "112", "-m", "comment", "--comment",
                                        "vipd eth0", "-j", "ACCEPT"));
  EXPECT_THAT(commands.remove,
              ElementsAre("/usr/sbin/iptables", "-w", "5", "-D", "INPUT", "-d", "224.0.0.18/32",
                          "-p", "112", "-m", "comment", "--comment", "vipd eth0", "-j", "ACCEPT"));
  EXPECT_TRUE(commands.remove_leftovers);
}

TEST(IptablesCommands, Ipv6UsesIp6tablesAndTheV6Group) {
  const FirewallCommands commands = iptables_commands("VRRP", "bond0", false);
  EXPECT_EQ(commands.add.front(), "/usr/sbin/ip6tables");
  EXPECT_THAT(commands.add, testing::Contains("ff02::12/128"));
  EXPECT_THAT(commands.add, testing::Contains("vipd bond0"));
}

TEST(NftablesCommands, OneTransactionReplacingALeftoverTablePerInterface) {
  const FirewallCommands commands = nftables_commands("eth0", true);
  ASSERT_EQ(commands.add.size(), 2u);
  EXPECT_EQ(commands.add[0], "/usr/sbin/nft");
  EXPECT_EQ(
      commands.add[1],
      "add table inet vipd_eth0; delete table inet vipd_eth0; add table inet vipd_eth0 { chain "
      "input { type filter hook input priority -10; policy accept; ip daddr 224.0.0.18/32 "
      "meta l4proto 112 accept; }; }");
  EXPECT_THAT(commands.remove, ElementsAre("/usr/sbin/nft", "delete table inet vipd_eth0"));
  EXPECT_FALSE(commands.remove_leftovers);  // the add transaction replaces a leftover table
  EXPECT_THAT(nftables_commands("eth0", false).add[1], HasSubstr("ip6 daddr ff02::12/128 meta"));
}

TEST(NftablesCommands, TableNameKeepsOnlyIdentifierCharacters) {
  EXPECT_EQ(nftables_table("eth0"), "vipd_eth0");
  EXPECT_EQ(nftables_table("eth0.100"), "vipd_eth0_100");
  EXPECT_EQ(nftables_table("br-lan"), "vipd_br_lan");
  EXPECT_EQ(nftables_table("enp0s31f6"), "vipd_enp0s31f6");
}

TEST(VrrpFirewall, RemovesWhatAKilledRunLeftThenAddsOneRuleAndRemovesItAtClose) {
  FakeTools tools;
  int leftovers = 2;
  tools.fails = [&](const Argv& argv) { return is_delete(argv) && leftovers-- <= 0; };
  VrrpFirewall firewall(tools.runner());
  firewall.open(iptables_plan("INPUT"), "eth0", true);
  const FirewallCommands expected = iptables_commands("INPUT", "eth0", true);
  // Two leftovers deleted, the third delete fails (none left), then the insert.
  EXPECT_THAT(tools.ran,
              ElementsAre(expected.remove, expected.remove, expected.remove, expected.add));
  tools.ran.clear();
  tools.fails = [](const Argv&) { return false; };
  firewall.close();
  EXPECT_THAT(tools.ran, ElementsAre(expected.remove));
  tools.ran.clear();
  firewall.close();
  EXPECT_TRUE(tools.ran.empty()) << "close twice must not remove a rule twice";
}

TEST(VrrpFirewall, ClearingLeftoversIsBounded) {
  FakeTools tools;  // a delete that always "succeeds" must not loop forever
  VrrpFirewall firewall(tools.runner());
  firewall.open(iptables_plan("INPUT"), "eth0", true);
  EXPECT_EQ(tools.ran.size(), static_cast<std::size_t>(kMaxStaleRules) + 1);
  EXPECT_EQ(tools.ran.back(), iptables_commands("INPUT", "eth0", true).add);
}

TEST(VrrpFirewall, AFailedAddLeavesNothingToUndo) {
  FakeTools tools;
  tools.fails = [](const Argv&) { return true; };
  VrrpFirewall firewall(tools.runner());
  config::FirewallPlan plan = iptables_plan("NOSUCHCHAIN");
  plan.nftables = true;
  firewall.open(plan, "eth0", true);
  EXPECT_EQ(tools.ran.size(), 3u);  // one failed delete, the failed insert, the failed nft
  tools.ran.clear();
  firewall.close();
  EXPECT_TRUE(tools.ran.empty());
}

TEST(VrrpFirewall, BothRulesWhenBothAreAskedForAndUndoneInOrder) {
  FakeTools tools;
  tools.fails = [](const Argv& argv) { return is_delete(argv); };
  VrrpFirewall firewall(tools.runner());
  config::FirewallPlan plan = iptables_plan("INPUT");
  plan.nftables = true;
  firewall.open(plan, "eth1", true);
  EXPECT_EQ(tools.ran.size(), 3u);
  tools.ran.clear();
  tools.fails = [](const Argv&) { return false; };
  firewall.close();
  EXPECT_THAT(tools.ran, ElementsAre(iptables_commands("INPUT", "eth1", true).remove,
                                     nftables_commands("eth1", true).remove));
}

TEST(VrrpFirewall, NothingAskedNothingRun) {
  FakeTools tools;
  VrrpFirewall firewall(tools.runner());
  firewall.open(config::FirewallPlan{}, "eth0", true);
  firewall.close();
  EXPECT_TRUE(tools.ran.empty());
}

}  // namespace
}  // namespace vipd::app
