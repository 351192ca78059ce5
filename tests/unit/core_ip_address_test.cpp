#include "vipd/core/ip_address.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace vipd::core {
namespace {

IpAddress ip(const char* text) {
  const std::optional<IpAddress> parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

TEST(IpAddress, DefaultIsUnspecifiedIpv4) {
  const IpAddress address;
  EXPECT_EQ(address.family(), Family::V4);
  EXPECT_TRUE(address.is_v4());
  EXPECT_TRUE(address.is_unspecified());
  EXPECT_EQ(address.to_string(), "0.0.0.0");
  EXPECT_EQ(address.bytes().size(), 4u);
}

TEST(IpAddress, ParsesIpv4IntoNetworkOrderBytes) {
  const IpAddress address = ip("198.18.0.100");
  EXPECT_EQ(address.family(), Family::V4);
  EXPECT_EQ(address.size(), 4u);
  const std::vector<std::uint8_t> bytes(address.bytes().begin(), address.bytes().end());
  EXPECT_EQ(bytes, (std::vector<std::uint8_t>{198, 18, 0, 100}));
  EXPECT_EQ(address.to_string(), "198.18.0.100");
}

TEST(IpAddress, ParsesIpv6AndPrintsCanonicalForm) {
  const IpAddress address = ip("fd00:0198:0018:0000:0000:0000:0000:0100");
  EXPECT_EQ(address.family(), Family::V6);
  EXPECT_FALSE(address.is_v4());
  EXPECT_EQ(address.size(), 16u);
  EXPECT_EQ(address.data()[0], 0xfd);
  EXPECT_EQ(address.data()[15], 0x00);
  EXPECT_EQ(address.data()[14], 0x01);
  EXPECT_EQ(address.to_string(), "fd00:198:18::100");
}

TEST(IpAddress, TextRoundTrips) {
  for (const char* text : {"198.18.0.1", "198.19.255.254", "0.0.0.0", "255.255.255.255", "::",
                           "fe80::1", "fd00:198:18::2", "ff02::12", "fd00:198:18:1:2:3:4:5"}) {
    EXPECT_EQ(ip(text).to_string(), text);
  }
}

TEST(IpAddress, RejectsAnythingButAPlainAddress) {
  const std::string too_long(64, '1');
  for (const std::string& text :
       {std::string(""), std::string("198.18.0"), std::string("198.18.0.256"),
        std::string("198.18.0.1/24"), std::string(" 198.18.0.1"), std::string("198.18.0.1 "),
        std::string("198.18.0.01"), std::string("fe80::1%eth0"), std::string("fd00::/64"),
        std::string("fd00::g"), std::string("1:2:3:4:5:6:7:8:9"), std::string("localhost"),
        too_long, std::string("198.18.0.1\0junk", 15), std::string("fe80::1\0", 8)}) {
    EXPECT_FALSE(IpAddress::parse(text).has_value()) << '"' << text << '"';
  }
}

TEST(IpAddress, FromHostOrderValue) {
  EXPECT_EQ(IpAddress::v4(0xC6120001), ip("198.18.0.1"));
}

TEST(IpAddress, FromBytesCopiesOnlyTheFamilysSize) {
  const std::uint8_t bytes[16] = {198, 18, 0, 7, 0xAA, 0xBB};
  const IpAddress v4 = IpAddress::from_bytes(Family::V4, bytes);
  EXPECT_EQ(v4, ip("198.18.0.7"));
  const std::uint8_t v6_bytes[16] = {0xfd, 0x00, 0x01, 0x98, 0x00, 0x18, 0, 0,
                                     0,    0,    0,    0,    0,    0,    0, 2};
  EXPECT_EQ(IpAddress::from_bytes(Family::V6, v6_bytes), ip("fd00:198:18::2"));
}

TEST(IpAddressOrdering, IsUnsignedByteWiseNotTextual) {
  // As text "198.18.0.10" > "198.18.0.200"; as signed bytes 200 (-56) < 10. VRRP wants neither.
  EXPECT_GT(ip("198.18.0.200"), ip("198.18.0.10"));
  EXPECT_LT(ip("198.18.0.10"), ip("198.18.0.200"));
  EXPECT_GT(ip("198.18.0.128"), ip("198.18.0.127"));
  EXPECT_GT(ip("198.19.0.0"), ip("198.18.255.255"));  // the first differing byte decides
  EXPECT_GT(ip("fd00:198:18::200"), ip("fd00:198:18::10"));
  EXPECT_GT(ip("fe80::1"), ip("fd00:198:18::ffff"));
}

TEST(IpAddressOrdering, EqualityIsExact) {
  EXPECT_EQ(ip("198.18.0.1"), ip("198.18.0.1"));
  EXPECT_NE(ip("198.18.0.1"), ip("198.18.0.2"));
  EXPECT_EQ(ip("fd00:198:18::1") <=> ip("fd00:198:18:0::1"), std::strong_ordering::equal);
}

TEST(IpAddressOrdering, FamilyComesFirst) {
  // ::1 has "smaller" bytes than 255.255.255.255 but every IPv4 address sorts before IPv6.
  EXPECT_LT(ip("255.255.255.255"), ip("::"));
  EXPECT_NE(ip("0.0.0.0"), ip("::"));
}

TEST(IpAddressOrdering, SortsAListLikeVrrpTieBreak) {
  std::vector<IpAddress> addresses = {ip("198.18.0.200"), ip("198.18.0.9"), ip("198.18.0.10"),
                                      ip("198.18.1.1")};
  std::sort(addresses.begin(), addresses.end());
  std::vector<std::string> texts;
  for (const IpAddress& address : addresses) texts.push_back(address.to_string());
  EXPECT_EQ(texts,
            (std::vector<std::string>{"198.18.0.9", "198.18.0.10", "198.18.0.200", "198.18.1.1"}));
}

TEST(IpAddress, Classification) {
  EXPECT_TRUE(ip("224.0.0.18").is_multicast());
  EXPECT_TRUE(ip("239.255.255.255").is_multicast());
  EXPECT_FALSE(ip("223.255.255.255").is_multicast());
  EXPECT_FALSE(ip("240.0.0.0").is_multicast());
  EXPECT_TRUE(ip("ff02::12").is_multicast());
  EXPECT_FALSE(ip("fe80::1").is_multicast());

  EXPECT_TRUE(ip("fe80::1").is_link_local());
  EXPECT_TRUE(ip("febf::1").is_link_local());
  EXPECT_FALSE(ip("fec0::1").is_link_local());
  EXPECT_FALSE(ip("fd00:198:18::1").is_link_local());
  EXPECT_FALSE(ip("169.254.0.1").is_link_local());  // only IPv6 link-local matters to VRRP

  EXPECT_TRUE(ip("::").is_unspecified());
  EXPECT_FALSE(ip("::1").is_unspecified());
  EXPECT_FALSE(ip("0.0.0.1").is_unspecified());
}

TEST(VrrpGroup, IsTheIanaAssignedGroupPerFamily) {
  EXPECT_EQ(vrrp_group(Family::V4), ip("224.0.0.18"));
  EXPECT_EQ(vrrp_group(Family::V6), ip("ff02::12"));
  EXPECT_EQ(vrrp_group(Family::V4).family(), Family::V4);
  EXPECT_EQ(vrrp_group(Family::V6).family(), Family::V6);
  EXPECT_TRUE(vrrp_group(Family::V4).is_multicast());
  EXPECT_TRUE(vrrp_group(Family::V6).is_multicast());
}

}  // namespace
}  // namespace vipd::core
