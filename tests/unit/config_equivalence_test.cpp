// Plan equivalence: realistic ipfailover environments, read through the environment exactly as the
// daemon reads them, give the VRIDs, VIP assignment and priorities that ipfailover's generator
// (lib/config-generators.sh in the ipfailover image, summarised in docs/CONFIG.md) writes into
// keepalived.conf. The expected values below were worked out by hand from that generator.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config/plan.h"
#include "config_test_env.h"

namespace vipd::config {
namespace {

core::IpAddress ip(const char* text) {
  return core::IpAddress::parse(text).value();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

constexpr int kBackup = 0;

struct ExpectedInstance {
  const char* name;
  int vrid;
  std::vector<const char*> vips;
  int upstream_priority;  // master-eligible priority ipfailover writes, or kBackup
};

struct Environment {
  const char* what;
  std::vector<std::pair<const char*, const char*>> variables;
  const char* node;  // the interface's IPv4 address on this node
  std::vector<ExpectedInstance> instances;
  int backup_low;  // ipfailover: ipslot mod 64 + $RANDOM mod 32
  int backup_high;
  std::vector<const char*> unicast_peers;  // after dropping this node's own address
};

// ipfailover's one edge vipd changes on purpose (docs/CONFIG.md): ipslot 0 would give priority
// 255, which VRRP reserves for the address owner.
int vipd_priority(int upstream) {
  return upstream == 255 ? 254 : upstream;
}

class Equivalence : public testing::TestWithParam<Environment> {};

TEST_P(Equivalence, PlanMatchesIpfailoversGenerator) {
  const Environment& e = GetParam();
  testing_env::ScopedEnvironment env;
  for (const auto& [name, value] : e.variables) env.set(name, value);
  const testing_env::Parsed parsed = testing_env::parse_like_main({"run"});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);

  HostFacts host;
  host.interface = "eth0";
  host.ifindex = 2;
  host.primary_v4 = ip(e.node);
  host.link_local_v6 = ip("fe80::1");
  host.local_addresses = {ip(e.node), ip("fe80::1"), ip("127.0.0.1")};
  const PlanResult result = build_plan(parsed.options, host);
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  const Plan& plan = result.plan;

  ASSERT_EQ(plan.instances.size(), e.instances.size());
  for (std::size_t i = 0; i < e.instances.size(); ++i) {
    const ExpectedInstance& want = e.instances[i];
    const InstancePlan& got = plan.instances[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.number, static_cast<int>(i + 1));
    EXPECT_EQ(got.core.vrid, want.vrid);
    ASSERT_EQ(got.vips.size(), want.vips.size());
    for (std::size_t v = 0; v < want.vips.size(); ++v)
      EXPECT_EQ(got.vips[v].address, ip(want.vips[v]));
    EXPECT_EQ(got.master_eligible, want.upstream_priority != kBackup);
    // keepalived clears preempt_delay for the `state MASTER` instances ipfailover writes.
    const bool delay_configured = parsed.options.preemption == "preempt_delay 300";
    const bool keeps_delay = delay_configured && want.upstream_priority == kBackup;
    EXPECT_EQ(got.core.preempt_delay, std::chrono::seconds(keeps_delay ? 300 : 0));
    if (want.upstream_priority != kBackup) {
      EXPECT_EQ(got.core.priority, vipd_priority(want.upstream_priority));
    } else {
      EXPECT_GE(got.core.priority, std::max(e.backup_low, 1));
      EXPECT_LE(got.core.priority, e.backup_high);
    }
  }
  std::vector<core::IpAddress> peers;
  for (const char* peer : e.unicast_peers) peers.push_back(ip(peer));
  EXPECT_EQ(plan.unicast_peers, peers);
}

INSTANTIATE_TEST_SUITE_P(
    Ipfailover, Equivalence,
    testing::Values(
        // `oc adm ipfailover --replicas=2 --virtual-ips=...` on node .37: ipslot 37, idx 37%2+1 =
        // 2, so even instances are this node's (255-37 = 218, then 37+1 = 38).
        Environment{"two_replicas_node_37",
                    {{"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.100-102"},
                     {"OPENSHIFT_HA_REPLICA_COUNT", "2"},
                     {"OPENSHIFT_HA_NETWORK_INTERFACE", "eth0"},
                     {"OPENSHIFT_HA_MONITOR_PORT", "80"}},
                    "198.18.7.37",
                    {{"OpenShift_IPFailover_VIP_1", 11, {"198.18.7.100"}, kBackup},
                     {"OpenShift_IPFailover_VIP_2", 12, {"198.18.7.101"}, 218},
                     {"OpenShift_IPFailover_VIP_3", 13, {"198.18.7.102"}, kBackup}},
                    37,
                    68,
                    {}},
        // The same deployment on the other node, .38: idx 38%2+1 = 1, every instance eligible,
        // alternating 217 / 39.
        Environment{
            "two_replicas_node_38",
            {{"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.100-102"}, {"OPENSHIFT_HA_REPLICA_COUNT", "2"}},
            "198.18.7.38",
            {{"OpenShift_IPFailover_VIP_1", 11, {"198.18.7.100"}, 217},
             {"OpenShift_IPFailover_VIP_2", 12, {"198.18.7.101"}, 39},
             {"OpenShift_IPFailover_VIP_3", 13, {"198.18.7.102"}, 217}},
            38,
            69,
            {}},
        // 7 VIPs in 3 groups (3/2/2), VRID 12 taken by another cluster: the offset becomes 11 for
        // instance 2 (VRID 13) and stays there (instance 3: 14). Three replicas: idx 37%3+1 = 2.
        Environment{
            "groups_and_exclusion",
            {{"OPENSHIFT_HA_CONFIG_NAME", "ipf-ha"},
             {"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.100-106"},
             {"OPENSHIFT_HA_VIP_GROUPS", "3"},
             {"OPENSHIFT_HA_REPLICA_COUNT", "3"},
             {"HA_EXCLUDED_VRRP_IDS", "12"}},
            "198.18.7.37",
            {{"ipf_ha_VIP_1", 11, {"198.18.7.100", "198.18.7.101", "198.18.7.102"}, kBackup},
             {"ipf_ha_VIP_2", 13, {"198.18.7.103", "198.18.7.104"}, 218},
             {"ipf_ha_VIP_3", 14, {"198.18.7.105", "198.18.7.106"}, kBackup}},
            37,
            68,
            {}},
        // Pre-4.20 offset 0 and nopreempt on node .200 (ipslot 72): one replica, every instance
        // eligible, all at 255-72 = 183 (no alternation under nopreempt).
        Environment{
            "offset_zero_nopreempt",
            {{"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.10,198.18.7.11,198.18.7.20-198.18.7.21"},
             {"OPENSHIFT_HA_VRRP_ID_OFFSET", "0"},
             {"OPENSHIFT_HA_PREEMPTION", "nopreempt"}},
            "198.18.7.200",
            {{"OpenShift_IPFailover_VIP_1", 1, {"198.18.7.10"}, 183},
             {"OpenShift_IPFailover_VIP_2", 2, {"198.18.7.11"}, 183},
             {"OpenShift_IPFailover_VIP_3", 3, {"198.18.7.20"}, 183},
             {"OpenShift_IPFailover_VIP_4", 4, {"198.18.7.21"}, 183}},
            8,
            39,
            {}},
        // Node .128 (ipslot 0): idx 1, eligible 255 then 1. Two exclusions in a row: instance 1
        // skips 21 (offset 21, VRID 22); instance 2 would be 23, also excluded (offset 22, VRID
        // 24).
        Environment{"ipslot_zero_double_exclusion",
                    {{"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.50-53"},
                     {"OPENSHIFT_HA_VIP_GROUPS", "2"},
                     {"OPENSHIFT_HA_REPLICA_COUNT", "2"},
                     {"OPENSHIFT_HA_VRRP_ID_OFFSET", "20"},
                     {"HA_EXCLUDED_VRRP_IDS", "21 23"}},
                    "198.18.7.128",
                    {{"OpenShift_IPFailover_VIP_1", 22, {"198.18.7.50", "198.18.7.51"}, 255},
                     {"OpenShift_IPFailover_VIP_2", 24, {"198.18.7.52", "198.18.7.53"}, 1}},
                    0,
                    31,
                    {}},
        // IPv6 VIPs in upper case (ipfailover's bc needs upper case): the last hextet expands A..C.
        Environment{"ipv6_range",
                    {{"OPENSHIFT_HA_VIRTUAL_IPS", "fd00:198:18::A-C"},
                     {"VIPD_VRRP_VERSION", "3"},
                     {"OPENSHIFT_HA_MONITOR_PORT", "0"}},
                    "198.18.7.37",
                    {{"OpenShift_IPFailover_VIP_1", 11, {"fd00:198:18::a"}, 218},
                     {"OpenShift_IPFailover_VIP_2", 12, {"fd00:198:18::b"}, 38},
                     {"OpenShift_IPFailover_VIP_3", 13, {"fd00:198:18::c"}, 218}},
                    37,
                    68,
                    {}},
        // Unicast with the same peer list on every node; this node (.39) drops itself.
        // Three replicas: idx 39%3+1 = 1, eligible at 255-39 = 216.
        Environment{"unicast_three_nodes",
                    {{"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.200"},
                     {"OPENSHIFT_HA_REPLICA_COUNT", "3"},
                     {"OPENSHIFT_HA_UNICAST_PEERS", "198.18.7.37,198.18.7.38,198.18.7.39"},
                     {"OPENSHIFT_HA_MONITOR_PORT", "8443"},
                     {"OPENSHIFT_HA_CHECK_INTERVAL", "5"}},
                    "198.18.7.39",
                    {{"OpenShift_IPFailover_VIP_1", 11, {"198.18.7.200"}, 216}},
                    39,
                    70,
                    {"198.18.7.37", "198.18.7.38"}},
        // Ten instances up to VRID 255; node .1 with two replicas: idx 2, eligible 254 / 2.
        Environment{"top_of_vrid_space",
                    {{"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.1-10"},
                     {"OPENSHIFT_HA_VRRP_ID_OFFSET", "245"},
                     {"OPENSHIFT_HA_REPLICA_COUNT", "2"}},
                    "198.18.7.1",
                    {{"OpenShift_IPFailover_VIP_1", 246, {"198.18.7.1"}, kBackup},
                     {"OpenShift_IPFailover_VIP_2", 247, {"198.18.7.2"}, 254},
                     {"OpenShift_IPFailover_VIP_3", 248, {"198.18.7.3"}, kBackup},
                     {"OpenShift_IPFailover_VIP_4", 249, {"198.18.7.4"}, 2},
                     {"OpenShift_IPFailover_VIP_5", 250, {"198.18.7.5"}, kBackup},
                     {"OpenShift_IPFailover_VIP_6", 251, {"198.18.7.6"}, 254},
                     {"OpenShift_IPFailover_VIP_7", 252, {"198.18.7.7"}, kBackup},
                     {"OpenShift_IPFailover_VIP_8", 253, {"198.18.7.8"}, 2},
                     {"OpenShift_IPFailover_VIP_9", 254, {"198.18.7.9"}, kBackup},
                     {"OpenShift_IPFailover_VIP_10", 255, {"198.18.7.10"}, 254}},
                    1,
                    32,
                    {}},
        // scrub() keeps underscores and turns '-' into '_'; five VIPs in two groups (3/2).
        Environment{
            "scrubbed_name_groups",
            {{"OPENSHIFT_HA_CONFIG_NAME", "router_east-1"},
             {"OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.60-64"},
             {"OPENSHIFT_HA_VIP_GROUPS", "2"},
             {"OPENSHIFT_HA_REPLICA_COUNT", "2"}},
            "198.18.7.38",
            {{"router_east_1_VIP_1", 11, {"198.18.7.60", "198.18.7.61", "198.18.7.62"}, 217},
             {"router_east_1_VIP_2", 12, {"198.18.7.63", "198.18.7.64"}, 39}},
            38,
            69,
            {}}),
    [](const testing::TestParamInfo<Environment>& param_info) {
      return std::string(param_info.param.what);
    });

// What ipfailover writes besides the instances, for one of the environments above.
TEST(EquivalenceDetails, CheckPasswordAndPreemption) {
  testing_env::ScopedEnvironment env;
  env.set("OPENSHIFT_HA_VIRTUAL_IPS", "198.18.7.200");
  env.set("OPENSHIFT_HA_CONFIG_NAME", "ipf-ha");
  env.set("OPENSHIFT_HA_MONITOR_PORT", "8443");
  env.set("OPENSHIFT_HA_CHECK_INTERVAL", "5");
  env.set("OPENSHIFT_HA_NOTIFY_SCRIPT", "/usr/local/bin/notify.sh");
  const testing_env::Parsed parsed = testing_env::parse_like_main({"run"});
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  HostFacts host;
  host.interface = "eth0";
  host.primary_v4 = ip("198.18.7.39");
  host.local_addresses = {ip("198.18.7.39")};
  const PlanResult result = build_plan(parsed.options, host);
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  // vrrp_script chk_ipf_ha { script "</dev/tcp/198.18.7.39/8443"; interval 5 }, no weight.
  EXPECT_EQ(result.plan.health.name, "chk_ipf_ha");
  EXPECT_EQ(result.plan.health.kind, HealthPlan::Kind::TcpPort);
  EXPECT_EQ(result.plan.health.address, ip("198.18.7.39"));
  EXPECT_EQ(result.plan.health.port, 8443);
  EXPECT_EQ(result.plan.health.interval, std::chrono::seconds(5));
  EXPECT_EQ(result.plan.health.weight, 0);
  EXPECT_EQ(result.plan.notify_script, "/usr/local/bin/notify.sh");
  // authentication { auth_type PASS; auth_pass ipf-ha }; `state MASTER` with `preempt_delay 300`,
  // which keepalived clears for an initial MASTER; VRRPv2, 1 s.
  const InstancePlan& instance = result.plan.instances.at(0);
  EXPECT_TRUE(instance.master_eligible);
  EXPECT_EQ(instance.auth_type, core::AuthType::SimplePassword);
  EXPECT_EQ(instance.auth_key, core::make_auth_key("ipf-ha"));
  EXPECT_TRUE(instance.core.preempt);
  EXPECT_EQ(instance.core.preempt_delay, std::chrono::seconds(0));
  EXPECT_EQ(instance.core.version, core::VrrpVersion::V2);
  EXPECT_EQ(instance.core.advert_interval, std::chrono::seconds(1));
}

}  // namespace
}  // namespace vipd::config
