// The IP packets vipd builds whole for a packet socket (agent/net/ip_frame): an advert addressed
// to a VIP, and the RFC 4862 duplicate-address probe. Checked field by field and by checksum.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "net/ip_frame.h"
#include "vipd/core/checksum.h"

namespace vipd::net {
namespace {

using core::IpAddress;

IpAddress v6(const char* text) {
  return *IpAddress::parse(text);
}

TEST(IpFrame, Ipv4AdvertHasAValidHeaderWithTtl255AndTheMessageBehindIt) {
  const std::vector<std::uint8_t> message = {0x21, 51, 100, 1, 0, 1, 0xAA, 0xBB, 198, 19, 0, 1};
  std::array<std::uint8_t, kMaxVrrpPacket> out{};
  const IpAddress source = IpAddress::v4(0xC6120002);
  const IpAddress vip = IpAddress::v4(0xC6130001);
  const std::size_t size = build_vrrp_packet(source, vip, message, out);
  ASSERT_EQ(size, kIpv4HeaderSize + message.size());
  EXPECT_EQ(out[0], 0x45);
  EXPECT_EQ(out[1], 0xC0);
  EXPECT_EQ((out[2] << 8) | out[3], static_cast<int>(size));
  EXPECT_EQ(out[8], 255);
  EXPECT_EQ(out[9], 112);
  EXPECT_EQ(IpAddress::from_bytes(core::Family::V4, out.data() + 12), source);
  EXPECT_EQ(IpAddress::from_bytes(core::Family::V4, out.data() + 16), vip);
  // A header with its checksum in place sums to all ones.
  EXPECT_EQ(core::checksum_finish(core::checksum_add(0, {out.data(), kIpv4HeaderSize})), 0);
  EXPECT_EQ(std::vector<std::uint8_t>(out.begin() + kIpv4HeaderSize, out.begin() + size), message);
}

TEST(IpFrame, Ipv6AdvertHasHopLimit255AndTrafficClassCs6) {
  const std::vector<std::uint8_t> message(12, 0x5A);
  std::array<std::uint8_t, kMaxVrrpPacket> out{};
  const IpAddress source = v6("fd00:198:18::2");
  const IpAddress vip = v6("fd00:198:18:1::1");
  const std::size_t size = build_vrrp_packet(source, vip, message, out);
  ASSERT_EQ(size, kIpv6HeaderSize + message.size());
  EXPECT_EQ(out[0], 0x6C);
  EXPECT_EQ(out[1], 0x00);
  EXPECT_EQ((out[4] << 8) | out[5], static_cast<int>(message.size()));
  EXPECT_EQ(out[6], 112);
  EXPECT_EQ(out[7], 255);
  EXPECT_EQ(IpAddress::from_bytes(core::Family::V6, out.data() + 8), source);
  EXPECT_EQ(IpAddress::from_bytes(core::Family::V6, out.data() + 24), vip);
}

TEST(IpFrame, MixedFamiliesOrAShortBufferBuildNothing) {
  const std::vector<std::uint8_t> message(12, 0);
  std::array<std::uint8_t, kMaxVrrpPacket> out{};
  EXPECT_EQ(build_vrrp_packet(IpAddress::v4(1), v6("fd00:198:18::1"), message, out), 0u);
  std::array<std::uint8_t, 16> small{};
  EXPECT_EQ(build_vrrp_packet(IpAddress::v4(1), IpAddress::v4(2), message, small), 0u);
  EXPECT_EQ(build_probe_ns(IpAddress::v4(1), out), 0u);
}

TEST(IpFrame, ProbeNsComesFromTheUnspecifiedAddressToTheSolicitedNodeGroup) {
  const IpAddress target = v6("fd00:198:18:1::abcd:1234");
  std::array<std::uint8_t, kProbeNsSize> out{};
  ASSERT_EQ(build_probe_ns(target, out), kProbeNsSize);
  EXPECT_EQ(out[6], 58);
  EXPECT_EQ(out[7], 255);
  const std::array<std::uint8_t, 16> unspecified{};
  EXPECT_TRUE(std::equal(unspecified.begin(), unspecified.end(), out.begin() + 8));
  const IpAddress group = IpAddress::from_bytes(core::Family::V6, out.data() + 24);
  EXPECT_EQ(group, v6("ff02::1:ffcd:1234"));
  EXPECT_EQ(group, solicited_node_group(target));
  const std::uint8_t* icmp = out.data() + kIpv6HeaderSize;
  EXPECT_EQ(icmp[0], 135);
  EXPECT_EQ(IpAddress::from_bytes(core::Family::V6, icmp + 8), target);
  // The ICMPv6 checksum over pseudo-header and message verifies.
  std::uint32_t sum = core::checksum_add(0, unspecified);
  sum = core::checksum_add(sum, group.bytes());
  sum += 24 + 58;
  sum = core::checksum_add(sum, {icmp, 24});
  EXPECT_EQ(core::checksum_finish(sum), 0);
}

TEST(IpFrame, Ipv6MulticastMacIsThirtyThreeThirtyThreeAndTheLowBits) {
  EXPECT_EQ(ipv6_multicast_mac(v6("ff02::1:ffcd:1234")),
            (core::MacAddress{0x33, 0x33, 0xff, 0xcd, 0x12, 0x34}));
  EXPECT_EQ(ipv6_multicast_mac(v6("ff02::12")), (core::MacAddress{0x33, 0x33, 0, 0, 0, 0x12}));
}

}  // namespace
}  // namespace vipd::net
