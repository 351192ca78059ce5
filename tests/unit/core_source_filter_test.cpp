// Who may advertise (core::SourceFilter), the raw-socket path's twin of the XDP program's
// check_source; the differential test (tests/bpf) holds the two together on random frames.
#include <gtest/gtest.h>

#include <array>

#include "vipd/core/source_filter.h"

namespace vipd::core {
namespace {

using namespace std::chrono_literals;

const IpAddress kPeer = IpAddress::v4(0xC6120009);      // 198.18.0.9
const IpAddress kStranger = IpAddress::v4(0xC612000A);  // 198.18.0.10
const IpAddress kUs = IpAddress::v4(0xC6120002);        // 198.18.0.2
const IpAddress kVip = IpAddress::v4(0xC6130001);       // 198.19.0.1
constexpr std::uint8_t kVrid = 51;

PacketMeta meta(const IpAddress& source, const IpAddress& destination) {
  PacketMeta m;
  m.source = source;
  m.destination = destination;
  m.ttl = 255;
  return m;
}

SourceFilter filter(bool restricted) {
  SourceFilter made(restricted);
  const std::array<AcceptedSource, 1> peers{{{kPeer, true}}};
  made.set_peers(peers);
  const std::array<HeldVip, 1> held{{{kVip, kVrid}}};
  made.set_held_vips(held);
  return made;
}

const IpAddress kGroup = vrrp_group(Family::V4);

TEST(SourceFilter, TheGroupIsOpenToAnyoneUnlessRestricted) {
  EXPECT_EQ(filter(false).check(meta(kStranger, kGroup), kVrid, 1s), DecodeError{});
  EXPECT_EQ(filter(true).check(meta(kStranger, kGroup), kVrid, 1s), DecodeError::NotPeer);
  EXPECT_EQ(filter(true).check(meta(kPeer, kGroup), kVrid, 1s), DecodeError{});
}

TEST(SourceFilter, UnicastIsForPeersARivalAtAHeldVipOrAnOpenWindow) {
  const SourceFilter open = filter(false);
  EXPECT_EQ(open.check(meta(kPeer, kUs), kVrid, 1s), DecodeError{});
  EXPECT_EQ(open.check(meta(kStranger, kUs), kVrid, 1s), DecodeError::NotPeer);
  EXPECT_EQ(open.check(meta(kStranger, kVip), kVrid, 1s), DecodeError{}) << "a rival's contact";
  EXPECT_EQ(open.check(meta(kStranger, kVip), kVrid + 1, 1s), DecodeError::NotPeer)
      << "the VIP belongs to another VRID";
  SourceFilter window = filter(false);
  window.set_window(kVrid, 10s);
  EXPECT_EQ(window.check(meta(kStranger, kUs), kVrid, 9s), DecodeError{});
  EXPECT_EQ(window.check(meta(kStranger, kUs), kVrid, 10s), DecodeError::NotPeer) << "closed";
  EXPECT_EQ(window.check(meta(kStranger, kUs), kVrid + 1, 9s), DecodeError::NotPeer);
}

TEST(SourceFilter, OnlyConfiguredPeersAreTtlExempt) {
  SourceFilter made;
  const std::array<AcceptedSource, 2> peers{{{kPeer, true}, {kStranger, false}}};
  made.set_peers(peers);
  EXPECT_TRUE(made.ttl_exempt(kPeer));
  EXPECT_FALSE(made.ttl_exempt(kStranger));
  EXPECT_FALSE(made.ttl_exempt(kUs));
}

}  // namespace
}  // namespace vipd::core
