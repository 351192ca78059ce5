// OPENSHIFT_HA_VIRTUAL_IPS parsing and OPENSHIFT_HA_VIP_GROUPS distribution.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/vip_list.h"

namespace vipd::config {
namespace {

std::string joined(const std::vector<Vip>& vips) {
  std::string out;
  for (const Vip& vip : vips) {
    out += (out.empty() ? "" : " ") + vip.address.to_string() + "/" + std::to_string(vip.prefix);
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

struct ExpansionCase {
  const char* input;
  const char* expected;  // "address/prefix" list, space separated
};

class VipExpansion : public testing::TestWithParam<ExpansionCase> {};

TEST_P(VipExpansion, ExpandsToSingleAddresses) {
  const VipListResult result = parse_vip_list(GetParam().input);
  EXPECT_TRUE(result.errors.empty()) << joined(result.errors);
  EXPECT_EQ(joined(result.vips), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, VipExpansion,
    testing::Values(ExpansionCase{"198.18.0.10", "198.18.0.10/32"},
                    ExpansionCase{"198.18.0.10-12", "198.18.0.10/32 198.18.0.11/32 198.18.0.12/32"},
                    ExpansionCase{"198.18.0.10-198.18.0.12",
                                  "198.18.0.10/32 198.18.0.11/32 198.18.0.12/32"},
                    ExpansionCase{"198.18.0.255-255", "198.18.0.255/32"},
                    ExpansionCase{"198.18.0.1,198.18.0.2", "198.18.0.1/32 198.18.0.2/32"},
                    ExpansionCase{"198.18.0.1 198.18.0.2\t198.18.0.3\n198.18.0.4",
                                  "198.18.0.1/32 198.18.0.2/32 198.18.0.3/32 198.18.0.4/32"},
                    ExpansionCase{" 198.18.0.1 , 198.18.0.2,,198.18.0.3-4 ",
                                  "198.18.0.1/32 198.18.0.2/32 198.18.0.3/32 198.18.0.4/32"},
                    ExpansionCase{"198.18.0.10/24", "198.18.0.10/24"},
                    ExpansionCase{"198.18.0.10-11/24", "198.18.0.10/24 198.18.0.11/24"},
                    ExpansionCase{"198.18.0.10-198.18.0.11/28", "198.18.0.10/28 198.18.0.11/28"},
                    ExpansionCase{"fd00:198:18::a-c",
                                  "fd00:198:18::a/128 fd00:198:18::b/128 fd00:198:18::c/128"},
                    ExpansionCase{"FD00:198:18::A-C",
                                  "fd00:198:18::a/128 fd00:198:18::b/128 fd00:198:18::c/128"},
                    ExpansionCase{"fd00:198:18::A-c",
                                  "fd00:198:18::a/128 fd00:198:18::b/128 fd00:198:18::c/128"},
                    ExpansionCase{"fd00:198:18::a-fd00:198:18::c",
                                  "fd00:198:18::a/128 fd00:198:18::b/128 fd00:198:18::c/128"},
                    ExpansionCase{"fd00:198:18::ff-101",
                                  "fd00:198:18::ff/128 fd00:198:18::100/128 fd00:198:18::101/128"},
                    ExpansionCase{"fd00:198:18::1/64", "fd00:198:18::1/64"},
                    ExpansionCase{"fd00:198:18::1-2/64", "fd00:198:18::1/64 fd00:198:18::2/64"},
                    ExpansionCase{"", ""}, ExpansionCase{" ,\t, ", ""}));

struct ErrorCase {
  const char* input;
  const char* message;  // must appear in the one error, naming the bad value
};

class VipErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(VipErrors, NamesTheBadValue) {
  const VipListResult result = parse_vip_list(GetParam().input);
  ASSERT_EQ(result.errors.size(), 1u) << joined(result.errors);
  EXPECT_NE(result.errors[0].find(GetParam().message), std::string::npos) << result.errors[0];
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, VipErrors,
    testing::Values(
        ErrorCase{"198.18.0.256", "invalid VIP '198.18.0.256': not an IPv4 or IPv6 address"},
        ErrorCase{"198.18.0.250-256", "octet 256 is over 255"},
        ErrorCase{"198.18.0.250-256", "'198.18.0.250-256'"},
        ErrorCase{"198.18.0.20-10", "invalid VIP range '198.18.0.20-10': start is above end"},
        ErrorCase{"198.18.0.20-198.18.0.10", "start is above end"},
        ErrorCase{"198.18.0.250-198.18.1.5",
                  "invalid VIP range '198.18.0.250-198.18.1.5': only the last octet may vary"},
        ErrorCase{"198.18.0", "invalid VIP '198.18.0'"}, ErrorCase{"bogus", "invalid VIP 'bogus'"},
        ErrorCase{"198.18.0.1.5", "invalid VIP '198.18.0.1.5'"},
        ErrorCase{"-5", "invalid VIP '-5'"},
        ErrorCase{"198.18.0.10-x", "invalid VIP range end 'x' in '198.18.0.10-x'"},
        ErrorCase{"198.18.0.10-", "invalid VIP range end '' in '198.18.0.10-'"},
        ErrorCase{"198.18.0.10-11-12", "invalid VIP range end '11-12'"},
        ErrorCase{"198.18.0.10/33", "invalid VIP prefix /33 in '198.18.0.10/33'"},
        ErrorCase{"198.18.0.10/0", "invalid VIP prefix /0"},
        ErrorCase{"198.18.0.10/abc", "invalid VIP prefix in '198.18.0.10/abc'"},
        ErrorCase{"198.18.0.10/", "invalid VIP prefix in '198.18.0.10/'"},
        ErrorCase{"fd00:198:18::1/129", "invalid VIP prefix /129"},
        ErrorCase{"fd00:198:18::1-10000", "hextet 10000 is over ffff"},
        ErrorCase{"fd00:198:18::1-fd00:198:19::5", "only the last hextet may vary"},
        ErrorCase{"fd00:198:18::9-1", "start is above end"},
        ErrorCase{"fd00:198:18::1-g", "invalid VIP range end 'g'"},
        ErrorCase{"198.18.0.1-fd00:198:18::2", "invalid VIP range end 'fd00:198:18::2'"},
        ErrorCase{"198.18.0.10 198.18.0.9-11", "duplicate VIP 198.18.0.10"},
        ErrorCase{"fd00:198:18::a,FD00:198:18::A", "duplicate VIP fd00:198:18::a"},
        ErrorCase{"224.0.0.18", "invalid VIP '224.0.0.18': a multicast address"},
        ErrorCase{"ff02::12", "invalid VIP 'ff02::12': a multicast address"},
        ErrorCase{"0.0.0.0", "invalid VIP '0.0.0.0': the unspecified address"}));

TEST(VipList, OneBadTokenDoesNotHideTheOthers) {
  const VipListResult result = parse_vip_list("198.18.0.1, nonsense, 198.18.0.2, 198.18.0.9-3");
  EXPECT_EQ(joined(result.vips), "198.18.0.1/32 198.18.0.2/32");
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_NE(result.errors[0].find("'nonsense'"), std::string::npos);
  EXPECT_NE(result.errors[1].find("'198.18.0.9-3'"), std::string::npos);
}

TEST(VipList, KeepsTheOrderGivenAndBothFamilies) {
  // Mixing families is legal in the list; an instance holding both is the plan's error.
  const VipListResult result = parse_vip_list("198.18.0.9 fd00:198:18::1 198.18.0.1");
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(joined(result.vips), "198.18.0.9/32 fd00:198:18::1/128 198.18.0.1/32");
}

TEST(VipList, LongRangeIsRefused) {
  const VipListResult result = parse_vip_list("fd00:198:18::0-ffff");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].find("more than 4096 addresses"), std::string::npos);
}

std::vector<Vip> numbered_vips(int count) {
  std::vector<Vip> vips;
  for (int i = 1; i <= count; ++i) {
    vips.push_back({core::IpAddress::v4(0xC6120000u + static_cast<std::uint32_t>(i)), 32});
  }
  return vips;
}

struct GroupCase {
  int vips;
  unsigned groups;
  std::vector<std::size_t> sizes;
};

class VipGroups : public testing::TestWithParam<GroupCase> {};

TEST_P(VipGroups, SpreadsLikeIpfailover) {
  const std::vector<Vip> vips = numbered_vips(GetParam().vips);
  const auto groups = group_vips(vips, GetParam().groups);
  std::vector<std::size_t> sizes;
  std::vector<Vip> in_order;
  for (const auto& group : groups) {
    sizes.push_back(group.size());
    in_order.insert(in_order.end(), group.begin(), group.end());
  }
  EXPECT_EQ(sizes, GetParam().sizes);
  EXPECT_EQ(in_order, vips);  // consecutive slices, nothing lost or reordered
}

INSTANTIATE_TEST_SUITE_P(
    Distribution, VipGroups,
    testing::Values(GroupCase{7, 3, {3, 2, 2}},              // the example
                    GroupCase{7, 0, {1, 1, 1, 1, 1, 1, 1}},  // unset or 0: one per VIP
                    GroupCase{3, 5, {1, 1, 1}},              // G > N: N instances
                    GroupCase{6, 3, {2, 2, 2}}, GroupCase{10, 4, {3, 3, 2, 2}},
                    GroupCase{11, 4, {3, 3, 3, 2}}, GroupCase{5, 1, {5}}, GroupCase{1, 1, {1}},
                    GroupCase{0, 3, {}}, GroupCase{0, 0, {}}));

}  // namespace
}  // namespace vipd::config
