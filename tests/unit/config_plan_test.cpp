// build_plan() and its parts against hand-made host facts: every ipfailover variable's default,
// its accepted forms and its errors.
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "config/plan.h"

namespace vipd::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

core::IpAddress ip(const char* text) {
  return core::IpAddress::parse(text).value();
}

HostFacts host(const char* v4 = "198.18.7.37") {
  HostFacts facts;
  facts.interface = "eth0";
  facts.ifindex = 2;
  facts.mac = {0x02, 0, 0, 0, 0, 0x25};
  facts.primary_v4 = ip(v4);
  facts.link_local_v6 = ip("fe80::25");
  facts.local_addresses = {ip(v4), ip("fe80::25"), ip("127.0.0.1")};
  return facts;
}

HostFacts v6_only_host() {
  HostFacts facts = host();
  facts.primary_v4.reset();
  facts.local_addresses = {ip("fe80::25"), ip("fd00:198:18::25")};
  return facts;
}

RunOptions options(const char* vips = "198.18.7.100") {
  RunOptions o;
  o.vips = vips;
  return o;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const std::string& line : lines) {
    if (line.find(part) != std::string::npos) return true;
  }
  return false;
}

std::vector<int> vrids_of(const Plan& plan) {
  std::vector<int> vrids;
  for (const InstancePlan& instance : plan.instances) vrids.push_back(instance.core.vrid);
  return vrids;
}

std::vector<int> priorities_of(const Plan& plan) {
  std::vector<int> priorities;
  for (const InstancePlan& instance : plan.instances) priorities.push_back(instance.core.priority);
  return priorities;
}

// --- Defaults -------------------------------------------------------------------------------

TEST(PlanDefaults, MatchIpfailoversImage) {
  const PlanResult result = build_plan(options(), host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  const Plan& plan = result.plan;
  EXPECT_EQ(plan.interface, "eth0");
  EXPECT_EQ(plan.ifindex, 2);
  EXPECT_EQ(plan.source, ip("198.18.7.37"));
  EXPECT_TRUE(plan.unicast_peers.empty());
  ASSERT_EQ(plan.notes.size(), 1u) << joined(plan.notes);
  EXPECT_TRUE(contains(plan.notes, "preempt_delay does not apply to master-eligible instances"));
  ASSERT_EQ(plan.instances.size(), 1u);
  const InstancePlan& instance = plan.instances[0];
  EXPECT_EQ(instance.name, "OpenShift_IPFailover_VIP_1");
  EXPECT_EQ(instance.number, 1);
  EXPECT_EQ(instance.core.vrid, 11);  // offset 10 + 1
  EXPECT_EQ(instance.core.version, core::VrrpVersion::V2);
  EXPECT_EQ(instance.core.advert_interval, seconds(1));
  EXPECT_EQ(instance.core.priority, 218);  // 255 - 37: one replica, so master-eligible
  EXPECT_TRUE(instance.master_eligible);
  EXPECT_TRUE(instance.core.preempt);
  // `preempt_delay 300`, but ipfailover writes `state MASTER` here and keepalived then clears it.
  EXPECT_EQ(instance.core.preempt_delay, seconds(0));
  EXPECT_EQ(instance.core.primary_address, ip("198.18.7.37"));
  EXPECT_EQ(instance.auth_type, core::AuthType::SimplePassword);
  EXPECT_EQ(instance.auth_key, core::make_auth_key("OpenShif"));
  ASSERT_EQ(instance.vips.size(), 1u);
  EXPECT_EQ(instance.vips[0].address, ip("198.18.7.100"));
  EXPECT_EQ(instance.vips[0].prefix, 32);

  const HealthPlan& health = plan.health;
  EXPECT_EQ(health.kind, HealthPlan::Kind::TcpPort);
  EXPECT_EQ(health.name, "chk_OpenShift_IPFailover");
  EXPECT_EQ(health.address, ip("198.18.7.37"));  // the node's address, as ipfailover checks it
  EXPECT_EQ(health.port, 80);
  EXPECT_EQ(health.interval, seconds(2));
  EXPECT_EQ(health.timeout, seconds(2));
  EXPECT_EQ(health.rise, 1);
  EXPECT_EQ(health.fall, 1);
  EXPECT_EQ(health.weight, 0);
  EXPECT_TRUE(plan.notify_script.empty());
  EXPECT_TRUE(plan.firewall.iptables_chain.empty());
  EXPECT_FALSE(plan.firewall.nftables);
  EXPECT_EQ(plan.garp.repeat, 5);
  EXPECT_EQ(plan.garp.delay, seconds(5));
  EXPECT_TRUE(plan.use_bpf);
  EXPECT_EQ(plan.pin_path, "/sys/fs/bpf/vipd/eth0");
  EXPECT_EQ(plan.bpffs_root, "/sys/fs/bpf");
  EXPECT_EQ(plan.status_socket, "@vipd/eth0");
}

// --- OPENSHIFT_HA_CONFIG_NAME -----------------------------------------------------------------

struct NameCase {
  const char* config_name;
  const char* instance_name;
  const char* password;  // the first 8 characters of the raw name
};

class ConfigName : public testing::TestWithParam<NameCase> {};

TEST_P(ConfigName, ScrubsNamesAndKeepsTheRawPassword) {
  RunOptions o = options("198.18.7.100-101");
  o.config_name = GetParam().config_name;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  ASSERT_EQ(result.plan.instances.size(), 2u);
  EXPECT_EQ(result.plan.instances[0].name, std::string(GetParam().instance_name) + "_VIP_1");
  EXPECT_EQ(result.plan.instances[1].name, std::string(GetParam().instance_name) + "_VIP_2");
  EXPECT_EQ(result.plan.health.name, "chk_" + std::string(GetParam().instance_name));
  EXPECT_EQ(result.plan.instances[1].auth_key, core::make_auth_key(GetParam().password));
}

INSTANTIATE_TEST_SUITE_P(
    Scrubbing, ConfigName,
    testing::Values(NameCase{"OpenShift-IPFailover", "OpenShift_IPFailover", "OpenShif"},
                    NameCase{"ha-1", "ha_1", "ha-1"},
                    NameCase{"my_config", "my_config", "my_confi"},
                    NameCase{"router.east 2", "routereast2", "router.e"},
                    // ipfailover's own example for its scrub(): `tr -dc '[:alnum:]\-_'`, '-' -> '_'
                    NameCase{"config\\!@#@$%$^&*()-+=1_{}|[]\\\\:;'<>?,./ipfailover",
                             "config_1_ipfailover", "config\\!"}));

TEST(ConfigName, ScrubbedToNothingIsAnError) {
  RunOptions o = options();
  o.config_name = "!!!";
  const PlanResult result = build_plan(o, host());
  EXPECT_TRUE(contains(result.errors, "invalid config name '!!!'")) << joined(result.errors);
}

TEST(ConfigName, AuthPassOverridesAndAuthCanBeOff) {
  RunOptions o = options();
  o.auth_pass = "s3cret-longer-than-8";
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[0].auth_key, core::make_auth_key("s3cret-l"));

  o.no_auth = true;
  result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[0].auth_type, core::AuthType::None);

  o.no_auth = false;
  o.vrrp_version = 3;  // VRRPv3 has no authentication
  result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[0].auth_type, core::AuthType::None);
}

TEST(ScrubName, RemovesWhatKeepalivedCannotName) {
  EXPECT_EQ(scrub_name("OpenShift-IPFailover"), "OpenShift_IPFailover");
  EXPECT_EQ(scrub_name("a_b-c d.e"), "a_b_cde");
  EXPECT_EQ(scrub_name(""), "");
}

// --- OPENSHIFT_HA_VIP_GROUPS through the plan -------------------------------------------------

TEST(VipGroupsPlan, SevenVipsInThreeGroups) {
  RunOptions o = options("198.18.7.100-106");
  o.vip_groups = 3;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  ASSERT_EQ(result.plan.instances.size(), 3u);
  EXPECT_EQ(result.plan.instances[0].vips.size(), 3u);
  EXPECT_EQ(result.plan.instances[1].vips.size(), 2u);
  EXPECT_EQ(result.plan.instances[2].vips.size(), 2u);
  EXPECT_EQ(result.plan.instances[1].vips[0].address, ip("198.18.7.103"));
  EXPECT_EQ(result.plan.instances[2].vips[1].address, ip("198.18.7.106"));
  EXPECT_EQ(vrids_of(result.plan), (std::vector<int>{11, 12, 13}));
}

TEST(VipGroupsPlan, MoreGroupsThanVipsGivesOneInstancePerVip) {
  RunOptions o = options("198.18.7.100-101");
  o.vip_groups = 9;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances.size(), 2u);
}

// --- OPENSHIFT_HA_VRRP_ID_OFFSET and HA_EXCLUDED_VRRP_IDS ---------------------------------------

struct VridCase {
  int offset;
  int count;
  std::vector<int> excluded;
  std::vector<int> expected;
};

class Vrids : public testing::TestWithParam<VridCase> {};

TEST_P(Vrids, SkipLikeIpfailover) {
  EXPECT_EQ(plan_vrids(GetParam().offset, GetParam().count, GetParam().excluded),
            GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Exclusions, Vrids,
    testing::Values(VridCase{10, 3, {}, {11, 12, 13}}, VridCase{0, 3, {}, {1, 2, 3}},
                    VridCase{10, 3, {5, 99}, {11, 12, 13}},  // out of the way: no effect
                    VridCase{10, 3, {13}, {11, 12, 14}},
                    // An exclusion raises the offset for every later instance too.
                    VridCase{10, 4, {12}, {11, 13, 14, 15}},
                    VridCase{10, 4, {11, 12}, {13, 14, 15, 16}},
                    // 12 pushes the offset to 11; then 11 + 3 = 14 is excluded too: offset 12.
                    VridCase{10, 3, {12, 14}, {11, 13, 15}},
                    VridCase{252, 3, {255}, {253, 254, 256}}, VridCase{10, 0, {11}, {}}));

TEST(VridPlan, ExclusionListAcceptsSpacesAndCommas) {
  RunOptions o = options("198.18.7.100-103");
  o.excluded_vrids = "12, 14  15";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  // 11; 12 -> offset 11 -> 13; 11 + 3 = 14 -> offset 12 -> 15 -> offset 13 -> 16; 13 + 4 = 17.
  EXPECT_EQ(vrids_of(result.plan), (std::vector<int>{11, 13, 16, 17}));
}

TEST(VridPlan, OffsetAndFirstVrid) {
  RunOptions o = options("198.18.7.100-102");
  o.vrrp_id_offset = 0;
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(vrids_of(result.plan), (std::vector<int>{1, 2, 3}));

  o.vrid = 50;  // VIPD_VRID overrides the offset
  o.excluded_vrids = "51";
  result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(vrids_of(result.plan), (std::vector<int>{50, 52, 53}));
}

TEST(VridPlan, HighestVridIs255) {
  RunOptions o = options("198.18.7.1-10");
  o.vrrp_id_offset = 245;
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances.back().core.vrid, 255);

  o.vrrp_id_offset = 246;
  result = build_plan(o, host());
  EXPECT_TRUE(
      contains(result.errors, "instance OpenShift_IPFailover_VIP_10: VRID 256 is outside 1-255"))
      << joined(result.errors);
}

TEST(VridPlan, ExclusionPushingPast255IsAnError) {
  RunOptions o = options("198.18.7.1-2");
  o.vrrp_id_offset = 253;
  o.excluded_vrids = "254";
  const PlanResult result = build_plan(o, host());
  EXPECT_TRUE(contains(result.errors, "VRID 256 is outside 1-255")) << joined(result.errors);
}

TEST(VridPlan, DefaultOffsetLeaves245Instances) {
  RunOptions o = options("198.18.7.1-245");
  EXPECT_TRUE(build_plan(o, host()).ok());
  o.vips = "198.18.7.1-246";
  EXPECT_TRUE(contains(build_plan(o, host()).errors, "VRID 256 is outside 1-255"));
}

// --- Priority scheme --------------------------------------------------------------------------

struct SchemeCase {
  const char* node;
  int replicas;
  bool nopreempt;
  // Per instance 1..n: the master-eligible priority, or 0 for a backup.
  std::vector<int> eligible;
  int backup_low;   // ipslot mod 64 (never below 1 in vipd)
  int backup_high;  // ipslot mod 64 + 31
};

class Scheme : public testing::TestWithParam<SchemeCase> {};

TEST_P(Scheme, FollowsIpfailoversFormula) {
  const SchemeCase& c = GetParam();
  const int count = static_cast<int>(c.eligible.size());
  const auto got = scheme_priorities(ip(c.node), c.replicas, count, c.nopreempt);
  ASSERT_EQ(got.size(), c.eligible.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("instance " + std::to_string(i + 1));
    EXPECT_EQ(got[i].master_eligible, c.eligible[i] != 0);
    if (c.eligible[i] != 0) {
      EXPECT_EQ(got[i].priority, c.eligible[i]);
    } else {
      EXPECT_GE(got[i].priority, c.backup_low);
      EXPECT_LE(got[i].priority, c.backup_high);
    }
  }
}

// ipslot = last octet mod 128; idx = ipslot mod replicas + 1; instance n is eligible if n mod idx
// is 0; eligible ones alternate 255 - ipslot, ipslot + 1.
INSTANTIATE_TEST_SUITE_P(
    Nodes, Scheme,
    testing::Values(
        // .37: ipslot 37
        SchemeCase{"198.18.7.37", 1, false, {218, 38, 218, 38}, 37, 68},
        SchemeCase{"198.18.7.37", 2, false, {0, 218, 0, 38, 0, 218}, 37, 68},  // idx 2
        SchemeCase{"198.18.7.37", 3, false, {0, 218, 0, 38}, 37, 68},          // 37 % 3 = 1
        SchemeCase{"198.18.7.37", 0, false, {218, 38, 218}, 37, 68},           // <= 0 means 1
        SchemeCase{"198.18.7.37", -1, false, {218, 38, 218}, 37, 68},
        SchemeCase{"198.18.7.37", 2, true, {0, 218, 0, 218, 0, 218}, 37, 68},  // no alternation
        SchemeCase{"198.18.7.37", 1, true, {218, 218, 218}, 37, 68},
        // .200: ipslot 72, backups from 72 mod 64 = 8
        SchemeCase{"198.18.7.200", 1, false, {183, 73, 183}, 8, 39},
        SchemeCase{"198.18.7.200", 2, false, {183, 73, 183}, 8, 39},         // 72 % 2 = 0: idx 1
        SchemeCase{"198.18.7.200", 3, false, {183, 73, 183}, 8, 39},         // 72 % 3 = 0: idx 1
        SchemeCase{"198.18.7.200", 5, false, {0, 0, 183, 0, 0, 73}, 8, 39},  // 72 % 5 = 2: idx 3
        SchemeCase{"198.18.7.200", 0, false, {183, 73}, 8, 39},
        SchemeCase{"198.18.7.200", -1, false, {183, 73}, 8, 39},
        // .128 and .0: ipslot 0 would give 255, the address owner's value; vipd keeps 254.
        SchemeCase{"198.18.7.128", 1, false, {254, 1, 254}, 1, 31},
        SchemeCase{"198.18.7.128", 2, false, {254, 1, 254}, 1, 31},
        SchemeCase{"198.18.7.128", 3, false, {254, 1, 254}, 1, 31},
        SchemeCase{"198.18.7.128", 0, false, {254, 1}, 1, 31},
        SchemeCase{"198.18.7.128", -1, true, {254, 254}, 1, 31},
        SchemeCase{"198.18.7.0", 1, false, {254, 1, 254, 1}, 1, 31},
        SchemeCase{"198.18.7.0", 2, false, {254, 1}, 1, 31},
        // .1: ipslot 1
        SchemeCase{"198.18.7.1", 1, false, {254, 2, 254}, 1, 32},
        SchemeCase{"198.18.7.1", 2, false, {0, 254, 0, 2}, 1, 32},
        SchemeCase{"198.18.7.1", 3, false, {0, 254, 0, 2}, 1, 32},
        SchemeCase{"198.18.7.1", 0, false, {254, 2}, 1, 32},
        // .127: ipslot 127: both eligible values are 128; backups 63..94
        SchemeCase{"198.18.7.127", 1, false, {128, 128}, 63, 94},
        SchemeCase{"198.18.7.127", 2, false, {0, 128, 0, 128}, 63, 94},
        SchemeCase{"198.18.7.127", 3, false, {0, 128, 0, 128}, 63, 94},  // 127 % 3 = 1
        SchemeCase{"198.18.7.127", -1, false, {128, 128}, 63, 94},
        // .192: ipslot 64 gives backups from 0 in ipfailover; vipd never gives 0.
        SchemeCase{"198.18.7.192", 3, false, {0, 191, 0, 65, 0, 191}, 1, 31},
        // Only the last octet counts.
        SchemeCase{"10.99.1.37", 2, false, {0, 218}, 37, 68}));

TEST(SchemeBackups, AreDeterministicSpreadAndNeverZeroOr255) {
  for (const char* node : {"198.18.7.192", "198.18.7.64", "198.18.7.37", "198.18.7.127"}) {
    SCOPED_TRACE(node);
    // 200 replicas: idx = ipslot + 1, so most instances are backups.
    const auto first = scheme_priorities(ip(node), 200, 255, false);
    const auto again = scheme_priorities(ip(node), 200, 255, false);
    std::set<int> backup_values;
    for (std::size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(first[i].priority, again[i].priority);
      EXPECT_NE(first[i].priority, 0);
      EXPECT_NE(first[i].priority, 255);
      if (!first[i].master_eligible) backup_values.insert(first[i].priority);
    }
    // Like $RANDOM % 32, the spread varies over instances.
    EXPECT_GE(backup_values.size(), 8u);
  }
}

TEST(SchemeBackups, DifferByNode) {
  // Two backup nodes must not tie on every instance (the tie-break would always pick one).
  const auto a = scheme_priorities(ip("198.18.7.3"), 2, 32, false);
  const auto b = scheme_priorities(ip("198.18.8.3"), 2, 32, false);
  int differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) differing += a[i].priority != b[i].priority ? 1 : 0;
  EXPECT_GT(differing, 0);
}

TEST(PriorityPlan, ReplicaCountAndNopreemptReachTheScheme) {
  RunOptions o = options("198.18.7.100-103");
  o.replica_count = 2;
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_FALSE(result.plan.instances[0].master_eligible);
  EXPECT_EQ(result.plan.instances[1].core.priority, 218);
  EXPECT_EQ(result.plan.instances[3].core.priority, 38);

  o.preemption = "nopreempt";
  result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[3].core.priority, 218);
}

TEST(PriorityPlan, ExplicitPriorityOverridesTheScheme) {
  RunOptions o = options("198.18.7.100-102");
  o.priority = 100;
  o.replica_count = 2;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(priorities_of(result.plan), (std::vector<int>{100, 100, 100}));
  for (const InstancePlan& instance : result.plan.instances) EXPECT_TRUE(instance.master_eligible);
}

TEST(PriorityPlan, SchemeNeedsAnIpv4AddressUnlessPriorityIsSet) {
  RunOptions o = options("fd00:198:18::a");
  o.vrrp_version = 3;
  o.monitor_port = "0";
  PlanResult result = build_plan(o, v6_only_host());
  EXPECT_TRUE(contains(result.errors, "ipfailover's priority scheme needs an IPv4 address on eth0"))
      << joined(result.errors);
  o.priority = 150;
  result = build_plan(o, v6_only_host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[0].core.priority, 150);
  EXPECT_EQ(result.plan.source, ip("fe80::25"));
}

// --- OPENSHIFT_HA_PREEMPTION ------------------------------------------------------------------

struct PreemptionCase {
  const char* text;
  bool preempt;
  int delay_s;
  const char* note;  // expected in the notes, or "" for none
};

class Preemption : public testing::TestWithParam<PreemptionCase> {};

TEST_P(Preemption, IsReadLikeKeepalived) {
  RunOptions o = options();
  o.priority = 100;  // no scheme: no `state MASTER` instance that would clear the delay
  o.preemption = GetParam().text;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[0].core.preempt, GetParam().preempt);
  EXPECT_EQ(result.plan.instances[0].core.preempt_delay, seconds(GetParam().delay_s));
  if (*GetParam().note == '\0') {
    EXPECT_TRUE(result.plan.notes.empty()) << joined(result.plan.notes);
  } else {
    EXPECT_TRUE(contains(result.plan.notes, GetParam().note)) << joined(result.plan.notes);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Preemption,
    testing::Values(PreemptionCase{"preempt_delay 300", true, 300, ""},
                    PreemptionCase{"nopreempt", false, 0, ""},
                    PreemptionCase{"preempt_nodelay 300", true, 300,
                                   "'preempt_nodelay 300' read as 'preempt_delay 300'"},
                    PreemptionCase{"preempt_nodelay 300", true, 300, "typo"},
                    PreemptionCase{"no_preempt", false, 0, "'no_preempt' read as 'nopreempt'"},
                    PreemptionCase{"preempt", true, 0, ""}, PreemptionCase{"", true, 0, ""},
                    PreemptionCase{"preempt_delay 0", true, 0, ""},
                    PreemptionCase{"  preempt_delay   1000 ", true, 1000, ""}));

TEST(Preemption, DelayIsClearedOnlyForMasterEligibleInstances) {
  RunOptions o = options("198.18.7.100-101");
  o.replica_count = 2;  // node .37: instance 1 backup, instance 2 master-eligible
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[0].core.preempt_delay, seconds(300));
  EXPECT_EQ(result.plan.instances[1].core.preempt_delay, seconds(0));
  EXPECT_TRUE(result.plan.instances[1].core.preempt);
  EXPECT_TRUE(contains(result.plan.notes, "keepalived clears it")) << joined(result.plan.notes);

  o.priority = 150;  // an explicit priority: no `state MASTER`, the delay stays everywhere
  result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.instances[1].core.preempt_delay, seconds(300));
  EXPECT_TRUE(result.plan.notes.empty()) << joined(result.plan.notes);
}

TEST(Preemption, BadValuesAreErrors) {
  for (const char* text : {"sometimes", "preempt_delay", "preempt_delay 1001", "preempt_delay -5",
                           "preempt_delay x", "nopreempt 5"}) {
    RunOptions o = options();
    o.preemption = text;
    const PlanResult result = build_plan(o, host());
    EXPECT_TRUE(contains(result.errors, "invalid preemption '" + std::string(text) + "'"))
        << text << ": " << joined(result.errors);
  }
}

// --- Interface --------------------------------------------------------------------------------

TEST(Interface, DefaultRouteChoiceIsNoted) {
  HostFacts facts = host();
  facts.interface_from_default_route = true;
  const PlanResult result = build_plan(options(), facts);
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_TRUE(
      contains(result.plan.notes, "no interface configured: using eth0, the default route's"))
      << joined(result.plan.notes);
}

TEST(Interface, WithoutAnAddressToSendFromIsAnError) {
  HostFacts facts = host();
  facts.primary_v4.reset();
  RunOptions o = options();
  o.priority = 100;
  o.monitor_port = "0";
  const PlanResult result = build_plan(o, facts);
  EXPECT_TRUE(contains(result.errors, "interface eth0 has no IPv4 address to send adverts from"))
      << joined(result.errors);
}

// --- Health check: OPENSHIFT_HA_MONITOR_PORT, _CHECK_SCRIPT, _CHECK_INTERVAL
// ----------------------

TEST(Health, MonitorPortZeroMeansNoCheck) {
  RunOptions o = options();
  o.monitor_port = "0";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.kind, HealthPlan::Kind::None);
}

TEST(Health, MonitorPortIsCheckedOnTheNodeAddress) {
  RunOptions o = options();
  o.monitor_port = "8443";
  const PlanResult result = build_plan(o, host("198.18.7.200"));
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.kind, HealthPlan::Kind::TcpPort);
  EXPECT_EQ(result.plan.health.address, ip("198.18.7.200"));
  EXPECT_EQ(result.plan.health.port, 8443);
}

TEST(Health, CheckScriptReplacesThePortCheck) {
  RunOptions o = options();
  o.monitor_port = "not-a-port";  // unused once a script is set, as in ipfailover
  o.check_script = "/usr/local/bin/check-router  --hosts=a,b";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.kind, HealthPlan::Kind::Script);
  EXPECT_EQ(result.plan.health.port, 0);
  EXPECT_EQ(result.plan.health.script_argv,
            (std::vector<std::string>{"/usr/local/bin/check-router", "--hosts=a,b"}));
}

TEST(Health, ABlankCheckScriptIsNoScript) {
  // An empty argv would leave nothing to run (and nothing to check for executability).
  RunOptions o = options();
  o.monitor_port = "8080";
  o.check_script = "  \t ";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.kind, HealthPlan::Kind::TcpPort);
  EXPECT_EQ(result.plan.health.port, 8080);
  EXPECT_TRUE(result.plan.health.script_argv.empty());
}

TEST(Health, IntervalTimeoutRiseFallWeightPassThrough) {
  RunOptions o = options();
  o.check_interval = "0.5";
  o.check_rise = 3;
  o.check_fall = 2;
  o.check_weight = -50;
  o.fast_fail = false;
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.interval, milliseconds(500));
  EXPECT_EQ(result.plan.health.timeout, milliseconds(500));  // defaults to the interval
  EXPECT_EQ(result.plan.health.rise, 3);
  EXPECT_EQ(result.plan.health.fall, 2);
  EXPECT_EQ(result.plan.health.weight, -50);
  EXPECT_FALSE(result.plan.health.fast_fail);

  o.check_timeout = "1.5";
  result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.timeout, milliseconds(1500));
}

TEST(Health, MonitorPortNeedsIpv4) {
  RunOptions o = options("fd00:198:18::a");
  o.vrrp_version = 3;
  o.priority = 100;
  const PlanResult result = build_plan(o, v6_only_host());
  EXPECT_TRUE(contains(result.errors, "monitor port 80 needs an IPv4 address on eth0"))
      << joined(result.errors);
}

// --- Unicast: OPENSHIFT_HA_UNICAST_PEERS, _USE_UNICAST
// ---------------------------------------------

TEST(Unicast, OwnAddressesAndDuplicatesAreDropped) {
  RunOptions o = options();
  o.unicast_peers = "198.18.7.37,198.18.7.38, 198.18.7.39 198.18.7.38";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.unicast_peers,
            (std::vector<core::IpAddress>{ip("198.18.7.38"), ip("198.18.7.39")}));
}

TEST(Unicast, PeersListingOnlyThisNodeFallBackToMulticastWithANote) {
  RunOptions o = options();
  o.unicast_peers = "198.18.7.37";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_TRUE(result.plan.unicast_peers.empty());
  EXPECT_TRUE(contains(result.plan.notes, "list only this node")) << joined(result.plan.notes);
}

TEST(Unicast, UseUnicastValues) {
  RunOptions o = options();
  o.unicast_peers = "198.18.7.38";
  for (const char* value : {"true", "TRUE", "yes", "1"}) {
    o.use_unicast = value;
    const PlanResult result = build_plan(o, host());
    ASSERT_TRUE(result.ok()) << value << ": " << joined(result.errors);
    EXPECT_EQ(result.plan.unicast_peers.size(), 1u);
    EXPECT_EQ(transport_name(result.plan), "unicast") << value;
  }
  // Without USE_UNICAST, peers add unicast to multicast (hybrid): a multicast block then
  // cannot split the group.
  for (const char* value : {"false", ""}) {
    o.use_unicast = value;
    const PlanResult result = build_plan(o, host());
    ASSERT_TRUE(result.ok()) << value << ": " << joined(result.errors);
    EXPECT_EQ(result.plan.unicast_peers.size(), 1u);
    EXPECT_EQ(transport_name(result.plan), "hybrid") << value;
  }
  o.unicast_peers = "";
  EXPECT_EQ(transport_name(build_plan(o, host()).plan), "multicast");
}

TEST(Unicast, DnsNamesArePeersResolvedLater) {
  RunOptions o = options();
  o.unicast_peers = "vipd-peers.ns.svc.cluster.local, 198.18.7.38,node-2,node-2";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.unicast_peers, (std::vector<core::IpAddress>{ip("198.18.7.38")}));
  EXPECT_EQ(result.plan.transport.peer_names,
            (std::vector<std::string>{"vipd-peers.ns.svc.cluster.local", "node-2"}));
  EXPECT_EQ(transport_name(result.plan), "hybrid");
}

TEST(Unicast, UseUnicastWithOnlyNamesIsAccepted) {
  RunOptions o = options();
  o.unicast_peers = "vipd-peers";
  o.use_unicast = "true";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(transport_name(result.plan), "unicast");
  EXPECT_TRUE(result.plan.transport.restrict_sources) << "unicast only: the peers are the group";
}

TEST(SplitBrain, DefaultsAndExpectedPeers) {
  RunOptions o = options();
  o.replica_count = 1;
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.split_brain.probe_interval, std::chrono::seconds(3));
  EXPECT_EQ(result.plan.split_brain.learned_peer_timeout, std::chrono::seconds(10));
  EXPECT_EQ(result.plan.transport.resolve_interval, std::chrono::seconds(30));
  EXPECT_EQ(result.plan.garp.refresh, std::chrono::seconds(30));
  EXPECT_FALSE(result.plan.split_brain.expected_peers);
  o.replica_count = 2;
  EXPECT_TRUE(build_plan(o, host()).plan.split_brain.expected_peers);
  o.replica_count = 1;
  o.unicast_peers = "198.18.7.38";
  EXPECT_TRUE(build_plan(o, host()).plan.split_brain.expected_peers);
}

TEST(SplitBrain, OptionsAreParsed) {
  RunOptions o = options();
  o.conflict_probe_interval = "0";
  o.learned_peer_timeout = "2.5";
  o.peer_resolve_interval = "5";
  o.allowed_sources = "198.18.7.40 198.18.7.41";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.split_brain.probe_interval, core::Time{0});
  EXPECT_EQ(result.plan.split_brain.learned_peer_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(result.plan.transport.resolve_interval, std::chrono::seconds(5));
  EXPECT_EQ(result.plan.transport.allowed_sources,
            (std::vector<core::IpAddress>{ip("198.18.7.40"), ip("198.18.7.41")}));
  EXPECT_TRUE(result.plan.transport.restrict_sources);
  o.allowed_sources = "";
  EXPECT_FALSE(build_plan(o, host()).plan.transport.restrict_sources) << "multicast: anyone";
}

struct PlanErrorCase {
  const char* what;
  std::function<void(RunOptions&)> change;
  const char* message;
};

class PlanErrors : public testing::TestWithParam<PlanErrorCase> {};

TEST_P(PlanErrors, NameTheBadValue) {
  RunOptions o = options();
  GetParam().change(o);
  const PlanResult result = build_plan(o, host());
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(contains(result.errors, GetParam().message)) << joined(result.errors);
}

INSTANTIATE_TEST_SUITE_P(
    Options, PlanErrors,
    testing::Values(
        PlanErrorCase{"no VIPs", [](RunOptions& o) { o.vips = ""; },
                      "no VIPs configured (--vips / OPENSHIFT_HA_VIRTUAL_IPS)"},
        PlanErrorCase{"bad VIP", [](RunOptions& o) { o.vips = "198.18.7.300"; }, "'198.18.7.300'"},
        PlanErrorCase{"too many instances", [](RunOptions& o) { o.vips = "198.18.0.0-255"; },
                      "too many instances: 256 (at most 255)"},
        PlanErrorCase{"too many VIPs in one instance",
                      [](RunOptions& o) {
                        o.vips = "198.18.0.1-255 198.18.1.1";
                        o.vip_groups = 1;
                      },
                      "OpenShift_IPFailover_VIP_1: 256 VIPs"},
        PlanErrorCase{"mixed families in one instance",
                      [](RunOptions& o) {
                        o.vips = "198.18.7.100 fd00:198:18::10";
                        o.vip_groups = 1;
                      },
                      "VIP fd00:198:18::10 mixes address families"},
        PlanErrorCase{"mixed families across instances",
                      [](RunOptions& o) { o.vips = "198.18.7.100 fd00:198:18::10"; },
                      "instance OpenShift_IPFailover_VIP_2: VIP fd00:198:18::10 mixes"},
        PlanErrorCase{"IPv6 with VRRPv2", [](RunOptions& o) { o.vips = "fd00:198:18::10"; },
                      "IPv6 VIPs need --vrrp-version 3"},
        PlanErrorCase{"negative groups", [](RunOptions& o) { o.vip_groups = -1; },
                      "invalid VIP groups -1"},
        PlanErrorCase{"excluded VRID word", [](RunOptions& o) { o.excluded_vrids = "12 abc"; },
                      "invalid excluded VRID 'abc'"},
        PlanErrorCase{"excluded VRID 0", [](RunOptions& o) { o.excluded_vrids = "0"; },
                      "invalid excluded VRID '0'"},
        PlanErrorCase{"excluded VRID 256", [](RunOptions& o) { o.excluded_vrids = "256"; },
                      "invalid excluded VRID '256'"},
        PlanErrorCase{"offset too high", [](RunOptions& o) { o.vrrp_id_offset = 255; },
                      "VRID 256 is outside 1-255"},
        PlanErrorCase{"negative offset", [](RunOptions& o) { o.vrrp_id_offset = -5; },
                      "VRID -4 is outside 1-255"},
        PlanErrorCase{"priority 256", [](RunOptions& o) { o.priority = 256; },
                      "invalid priority 256"},
        PlanErrorCase{"priority -1", [](RunOptions& o) { o.priority = -1; }, "invalid priority -1"},
        PlanErrorCase{"VRRP version", [](RunOptions& o) { o.vrrp_version = 4; },
                      "invalid VRRP version 4"},
        PlanErrorCase{"advert interval word", [](RunOptions& o) { o.advert_interval = "fast"; },
                      "invalid advert interval 'fast'"},
        PlanErrorCase{"v2 fractional advert", [](RunOptions& o) { o.advert_interval = "0.5"; },
                      "invalid advert interval 0.5 s for VRRPv2"},
        PlanErrorCase{"unicast peer word", [](RunOptions& o) { o.unicast_peers = "peer_a"; },
                      "invalid unicast peer 'peer_a': neither an IP address nor a DNS name"},
        PlanErrorCase{"unicast peer label", [](RunOptions& o) { o.unicast_peers = "-peer.a"; },
                      "invalid unicast peer '-peer.a'"},
        PlanErrorCase{"unicast peer family",
                      [](RunOptions& o) { o.unicast_peers = "fd00:198:18::2"; },
                      "unicast peer fd00:198:18::2 is not of the VIPs' family"},
        PlanErrorCase{"use-unicast word", [](RunOptions& o) { o.use_unicast = "maybe"; },
                      "invalid use-unicast 'maybe'"},
        PlanErrorCase{"use-unicast without peers", [](RunOptions& o) { o.use_unicast = "true"; },
                      "use-unicast is true but no unicast peers"},
        PlanErrorCase{"use-unicast with only our own address",
                      [](RunOptions& o) {
                        o.use_unicast = "true";
                        o.unicast_peers = "198.18.7.37";
                      },
                      "use-unicast is true but no unicast peers other than this node"},
        PlanErrorCase{"source word", [](RunOptions& o) { o.source_address = "me"; },
                      "invalid source address 'me'"},
        PlanErrorCase{"source family",
                      [](RunOptions& o) { o.multicast_source_address = "fd00:198:18::1"; },
                      "invalid source address 'fd00:198:18::1'"},
        PlanErrorCase{"monitor port word", [](RunOptions& o) { o.monitor_port = "http"; },
                      "invalid monitor port 'http'"},
        PlanErrorCase{"monitor port suffix", [](RunOptions& o) { o.monitor_port = "80a"; },
                      "invalid monitor port '80a'"},
        PlanErrorCase{"monitor port negative", [](RunOptions& o) { o.monitor_port = "-1"; },
                      "invalid monitor port '-1'"},
        PlanErrorCase{"monitor port too big", [](RunOptions& o) { o.monitor_port = "65536"; },
                      "invalid monitor port '65536'"},
        PlanErrorCase{"check interval 0", [](RunOptions& o) { o.check_interval = "0"; },
                      "invalid check interval '0'"},
        PlanErrorCase{"check interval word", [](RunOptions& o) { o.check_interval = "2s"; },
                      "invalid check interval '2s'"},
        PlanErrorCase{"check interval negative", [](RunOptions& o) { o.check_interval = "-2"; },
                      "invalid check interval '-2'"},
        PlanErrorCase{"check timeout 0", [](RunOptions& o) { o.check_timeout = "0"; },
                      "invalid check timeout '0'"},
        PlanErrorCase{"check timeout word", [](RunOptions& o) { o.check_timeout = "soon"; },
                      "invalid check timeout 'soon'"},
        PlanErrorCase{"check rise 0", [](RunOptions& o) { o.check_rise = 0; },
                      "invalid check rise 0"},
        PlanErrorCase{"check rise 101", [](RunOptions& o) { o.check_rise = 101; },
                      "invalid check rise 101"},
        PlanErrorCase{"check fall 0", [](RunOptions& o) { o.check_fall = 0; },
                      "invalid check fall 0"},
        PlanErrorCase{"check fall 101", [](RunOptions& o) { o.check_fall = 101; },
                      "invalid check fall 101"},
        PlanErrorCase{"check weight 254", [](RunOptions& o) { o.check_weight = 254; },
                      "invalid check weight 254"},
        PlanErrorCase{"check weight -254", [](RunOptions& o) { o.check_weight = -254; },
                      "invalid check weight -254"},
        PlanErrorCase{"garp repeat", [](RunOptions& o) { o.garp_master_repeat = -1; },
                      "invalid garp-master-repeat -1"},
        PlanErrorCase{"garp delay", [](RunOptions& o) { o.garp_master_delay = "x"; },
                      "invalid garp-master-delay 'x'"},
        PlanErrorCase{"garp refresh", [](RunOptions& o) { o.garp_master_refresh = "1m"; },
                      "invalid garp-master-refresh '1m'"},
        PlanErrorCase{"garp refresh repeat",
                      [](RunOptions& o) { o.garp_master_refresh_repeat = 0; },
                      "invalid garp-master-refresh-repeat 0 (1-100)"},
        PlanErrorCase{"probe interval", [](RunOptions& o) { o.conflict_probe_interval = "-1"; },
                      "invalid conflict-probe-interval '-1' (seconds, 0 for none)"},
        PlanErrorCase{"learned timeout", [](RunOptions& o) { o.learned_peer_timeout = "0"; },
                      "invalid learned-peer-timeout '0' (seconds, more than 0)"},
        PlanErrorCase{"resolve interval", [](RunOptions& o) { o.peer_resolve_interval = "x"; },
                      "invalid peer-resolve-interval 'x'"},
        PlanErrorCase{"pin path elsewhere",
                      [](RunOptions& o) { o.bpf_pin_path = "/sys/fs/bpf/other"; },
                      "invalid bpf-pin-path '/sys/fs/bpf/other' (an absolute path ending in "
                      "/vipd/eth0, e.g. /sys/fs/bpf/vipd/eth0)"},
        PlanErrorCase{"pin path relative", [](RunOptions& o) { o.bpf_pin_path = "fs/vipd/eth0"; },
                      "invalid bpf-pin-path 'fs/vipd/eth0'"},
        PlanErrorCase{"pin path other interface",
                      [](RunOptions& o) { o.bpf_pin_path = "/sys/fs/bpf/vipd/eth1"; },
                      "invalid bpf-pin-path '/sys/fs/bpf/vipd/eth1'"},
        PlanErrorCase{"allowed source", [](RunOptions& o) { o.allowed_sources = "peer-a"; },
                      "invalid allowed source 'peer-a': not an IP address"}),
    [](const testing::TestParamInfo<PlanErrorCase>& param_info) {
      std::string name;
      for (const char c : std::string(param_info.param.what))
        name += std::isalnum(c) != 0 ? c : '_';
      return name;
    });

TEST(Health, BadIntervalIsReportedOnceNotAsATimeoutToo) {
  RunOptions o = options();
  o.check_interval = "x";
  const PlanResult result = build_plan(o, host());
  EXPECT_TRUE(contains(result.errors, "invalid check interval 'x'")) << joined(result.errors);
  EXPECT_FALSE(contains(result.errors, "check timeout")) << joined(result.errors);
}

// --- Source address: VIPD_SOURCE_ADDRESS, MULTICAST_/UNICAST_SOURCE_IPADDRESS
// ---------------------

struct SourceCase {
  const char* peers;
  const char* source;
  const char* multicast_source;
  const char* unicast_source;
  const char* expected;
};

class Source : public testing::TestWithParam<SourceCase> {};

TEST_P(Source, PicksTheTransportsOwnSetting) {
  RunOptions o = options();
  o.unicast_peers = GetParam().peers;
  o.source_address = GetParam().source;
  o.multicast_source_address = GetParam().multicast_source;
  o.unicast_source_address = GetParam().unicast_source;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.source, ip(GetParam().expected));
  EXPECT_EQ(result.plan.instances[0].core.primary_address, ip(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Choice, Source,
    testing::Values(
        // multicast
        SourceCase{"", "", "", "", "198.18.7.37"},
        SourceCase{"", "", "198.18.7.50", "", "198.18.7.50"},
        SourceCase{"", "", "198.18.7.50", "198.18.7.51", "198.18.7.50"},
        SourceCase{"", "", "", "198.18.7.51", "198.18.7.51"},  // keepalived: one setting
        SourceCase{"", "198.18.7.52", "198.18.7.50", "198.18.7.51", "198.18.7.52"},
        // unicast
        SourceCase{"198.18.7.38", "", "", "", "198.18.7.37"},
        SourceCase{"198.18.7.38", "", "", "198.18.7.51", "198.18.7.51"},
        SourceCase{"198.18.7.38", "", "198.18.7.50", "198.18.7.51", "198.18.7.51"},
        SourceCase{"198.18.7.38", "", "198.18.7.50", "", "198.18.7.50"},
        SourceCase{"198.18.7.38", "198.18.7.52", "198.18.7.50", "198.18.7.51", "198.18.7.52"}));

// --- Pass-through and ignored settings ----------------------------------------------------------

TEST(PassThrough, NotifyScriptAndFirewall) {
  RunOptions o = options();
  o.notify_script = "/usr/local/bin/notify";
  o.iptables_chain = "INPUT";
  o.nftables_rule = "yes";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.notify_script, "/usr/local/bin/notify");
  EXPECT_EQ(result.plan.firewall.iptables_chain, "INPUT");
  EXPECT_TRUE(result.plan.firewall.nftables);
}

TEST(Ignored, SettingsAreAcceptedWithANoteEach) {
  RunOptions o = options();
  o.priority = 100;
  o.admin_emails = "root@localhost";
  o.smtp_server = "127.0.0.1";
  o.selector = "ipfailover=hello";
  o.keepalived_options = "-D";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  for (const char* name : {"OPENSHIFT_HA_ADMIN_EMAILS", "OPENSHIFT_HA_SMTP_SERVER",
                           "OPENSHIFT_HA_SELECTOR", "KEEPALIVED_OPTIONS"}) {
    EXPECT_TRUE(contains(result.plan.notes, std::string(name) + " is accepted and ignored"))
        << name;
  }
}

// --- parse_seconds ------------------------------------------------------------------------------

TEST(ParseSeconds, ExactDecimalSeconds) {
  EXPECT_EQ(parse_seconds("1"), core::Time(seconds(1)));
  EXPECT_EQ(parse_seconds("2"), core::Time(seconds(2)));
  EXPECT_EQ(parse_seconds("0.1"), core::Time(milliseconds(100)));
  EXPECT_EQ(parse_seconds("0.01"), core::Time(milliseconds(10)));
  EXPECT_EQ(parse_seconds("40.95"), core::Time(milliseconds(40950)));
  EXPECT_EQ(parse_seconds(".5"), core::Time(milliseconds(500)));
  EXPECT_EQ(parse_seconds("1."), core::Time(seconds(1)));
  EXPECT_EQ(parse_seconds("0.000000001"), core::Time(1));
  EXPECT_EQ(parse_seconds("999999999"), core::Time(seconds(999999999)));
  for (const char* bad : {"", ".", "x", "1s", "-1", "+1", "1.2.3", "1e3", " 1", "0.0000000001",
                          "9999999999", "99999999999"}) {
    EXPECT_FALSE(parse_seconds(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(Scheduling, DefaultsLeaveTheSchedulerAlone) {
  const PlanResult result = build_plan(options(), host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.scheduling.realtime_priority, 0);
  EXPECT_FALSE(result.plan.scheduling.lock_memory);
  EXPECT_EQ(result.plan.scheduling.timer_slack_us, 0);
}

TEST(Scheduling, OptionsReachThePlanAndBadValuesAreErrors) {
  RunOptions o = options();
  o.realtime_priority = 10;
  o.lock_memory = true;
  o.timer_slack_us = 1;
  PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.scheduling.realtime_priority, 10);
  EXPECT_TRUE(result.plan.scheduling.lock_memory);
  EXPECT_EQ(result.plan.scheduling.timer_slack_us, 1);
  o.realtime_priority = 100;
  o.timer_slack_us = -1;
  result = build_plan(o, host());
  EXPECT_TRUE(contains(result.errors, "invalid realtime-priority 100")) << joined(result.errors);
  EXPECT_TRUE(contains(result.errors, "invalid timer-slack-us -1")) << joined(result.errors);
}

}  // namespace
}  // namespace vipd::config
