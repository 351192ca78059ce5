// The XDP advert path run with bpf_prog_test_run_opts: verdicts, exact counters, exact ring-buffer
// events, coalescing and the ARP / neighbour-advert watch. Needs root.
#include <linux/bpf.h>

#include <array>
#include <chrono>
#include <thread>

#include "vipd/core/checksum.h"
#include "xdp_harness.h"

namespace vipd::test {
namespace {

using core::AdvertSpec;
using core::Expectation;
using core::Family;
using core::IpAddress;
using core::V3Checksum;
using core::VrrpVersion;

constexpr std::uint8_t kVridV2 = 1;
constexpr std::uint8_t kVridV2Auth = 2;
constexpr std::uint8_t kVridV3 = 3;
constexpr std::uint8_t kVridV3Ipv6 = 4;
constexpr std::uint8_t kVridUnknown = 9;
constexpr std::uint64_t kMs = 1000 * 1000;

const IpAddress kSource = *IpAddress::parse("198.18.0.2");
const IpAddress kOtherSource = *IpAddress::parse("198.18.0.3");
const IpAddress kVip = *IpAddress::parse("198.18.0.100");
const IpAddress kOtherVip = *IpAddress::parse("198.18.0.101");
const IpAddress kGroup4 = *IpAddress::parse("224.0.0.18");
const IpAddress kSource6 = *IpAddress::parse("fd00:198:18::2");
const IpAddress kVip6 = *IpAddress::parse("fd00:198:18::100");
const IpAddress kGroup6 = *IpAddress::parse("ff02::12");
const Mac kOwnMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const Mac kForeignMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x66};

struct AdvertParams {
  VrrpVersion version = VrrpVersion::V2;
  std::uint8_t vrid = kVridV2;
  std::uint8_t priority = 100;
  std::uint16_t interval_cs = 100;
  IpAddress source = kSource;
  std::vector<IpAddress> addresses{kVip};
  core::AuthType auth_type = core::AuthType::None;
  std::string password{};
  std::uint8_t ttl = 255;
  std::vector<std::uint16_t> tpids{};
  Bytes ipv4_options{};
  V3Checksum form = V3Checksum::PseudoHeader;
};

IpSpec ip_spec(const AdvertParams& p) {
  const IpAddress group = p.source.is_v4() ? kGroup4 : kGroup6;
  return IpSpec{
      .source = p.source, .destination = group, .ttl = p.ttl, .ipv4_options = p.ipv4_options};
}

Bytes advert_frame(const AdvertParams& p) {
  const AdvertSpec spec{.version = p.version,
                        .vrid = p.vrid,
                        .priority = p.priority,
                        .interval_cs = p.interval_cs,
                        .auth_type = p.auth_type,
                        .auth_key = core::make_auth_key(p.password),
                        .addresses = p.addresses};
  L2Spec l2;
  l2.tpids = p.tpids;
  Bytes frame = vrrp_frame(spec, ip_spec(p), l2, p.form);
  EXPECT_FALSE(frame.empty()) << "advert not encodable";
  return frame;
}

// Rewrites the VRRP checksum after a test edited the message (v2 / v3 pseudo-header form).
void fix_vrrp_checksum(Bytes& frame) {
  const auto parsed = parse_vrrp_frame(frame);
  ASSERT_TRUE(parsed.has_value());
  std::uint8_t* message = frame.data() + parsed->message_offset;
  message[6] = 0;
  message[7] = 0;
  const std::uint32_t length = static_cast<std::uint32_t>(parsed->message_length);
  const bool pseudo = (message[0] >> 4) == 3;
  const std::uint32_t initial =
      pseudo ? core::pseudo_header_sum(parsed->meta.source, parsed->meta.destination, length) : 0;
  const std::uint16_t checksum =
      core::checksum_finish(core::checksum_add(initial, {message, parsed->message_length}));
  message[6] = static_cast<std::uint8_t>(checksum >> 8);
  message[7] = static_cast<std::uint8_t>(checksum & 0xFF);
}

std::uint8_t* vrrp_message_of(Bytes& frame) {
  const auto parsed = parse_vrrp_frame(frame);
  EXPECT_TRUE(parsed.has_value());
  return frame.data() + parsed->message_offset;
}

std::uint16_t address_sum(std::span<const IpAddress> addresses) {
  std::uint32_t sum = 0;
  for (const IpAddress& address : addresses) sum = core::checksum_add(sum, address.bytes());
  return static_cast<std::uint16_t>(sum);
}

class XdpAdvertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(xdp_.loaded()) << "cannot load vipd_xdp (root needed)";
    xdp_.configure_vrid(kVridV2, Expectation{.version = VrrpVersion::V2, .family = Family::V4});
    xdp_.configure_vrid(kVridV2Auth, Expectation{.version = VrrpVersion::V2,
                                                 .family = Family::V4,
                                                 .auth_type = core::AuthType::SimplePassword,
                                                 .auth_key = core::make_auth_key("secret"),
                                                 .v2_interval_s = 1});
    xdp_.configure_vrid(kVridV3, Expectation{.version = VrrpVersion::V3, .family = Family::V4});
    xdp_.configure_vrid(kVridV3Ipv6, Expectation{.version = VrrpVersion::V3, .family = Family::V6});
  }

  // Runs one frame and checks the verdict, the reason and the slot.
  void expect_run(const Bytes& frame, int verdict, std::uint32_t reason, std::uint32_t slot) {
    EXPECT_EQ(xdp_.run(frame), verdict);
    EXPECT_EQ(xdp_.last().reason, reason);
    EXPECT_EQ(xdp_.last().slot, slot);
  }

  // Every slot we use is still all zero.
  void expect_no_counters() {
    for (std::uint32_t slot : {0u, 1u, 2u, 3u, 4u, 9u}) expect_stat_eq(xdp_.stat(slot), {});
  }

  // An invalid advert: the verdict, the reason, exactly one counter, no event.
  // Rejected for `reason` and counted under it, and under nothing else: the kernel never folds two
  // reasons into one counter.
  void expect_invalid(const Bytes& frame, std::uint32_t reason, std::uint32_t slot) {
    expect_run(frame, XDP_PASS, reason, slot);
    vipd_vrid_stat expected{};
    expected.rx_invalid[reason] = 1;
    expect_stat_eq(xdp_.stat(slot), expected);
    EXPECT_TRUE(xdp_.drain_events().empty());
  }

  static void expect_no_replaced_record(const vipd_advert_event& ev) {
    EXPECT_EQ(ev.prev_valid, 0);
    EXPECT_EQ(ev.prev_rx_ns, 0u);
    EXPECT_EQ(ev.prev_family, 0);
    EXPECT_EQ(ev.prev_priority, 0);
    EXPECT_EQ(ev.prev_interval_cs, 0);
    EXPECT_EQ(ev.prev_version, 0);
    EXPECT_EQ(ev.prev_addr_sum, 0);
    const std::array<std::uint8_t, 16> zero{};
    EXPECT_EQ(0, std::memcmp(ev.prev_src, zero.data(), zero.size()));
  }

  // The event carries `record` (vipd_last_adv as it was just before the advert) field by field.
  static void expect_replaced_record(const vipd_advert_event& ev, const vipd_last_adv& record) {
    ASSERT_EQ(record.valid, 1);
    EXPECT_EQ(ev.prev_valid, 1);
    EXPECT_EQ(ev.prev_rx_ns, record.rx_ns);
    EXPECT_EQ(ev.prev_family, record.family);
    EXPECT_EQ(ev.prev_priority, record.priority);
    EXPECT_EQ(ev.prev_interval_cs, record.interval_cs);
    EXPECT_EQ(ev.prev_version, record.version);
    EXPECT_EQ(ev.prev_addr_sum, record.addr_sum);
    EXPECT_EQ(0, std::memcmp(ev.prev_src, record.src, sizeof(ev.prev_src)));
  }

  vipd_advert_event single_advert_event() {
    const auto events = xdp_.drain_events();
    EXPECT_EQ(events.size(), 1u);
    if (events.size() != 1) return {};
    EXPECT_EQ(events[0].type(), VIPD_EVENT_ADVERT);
    EXPECT_EQ(events[0].bytes.size(), sizeof(vipd_advert_event));
    return events[0].as<vipd_advert_event>();
  }

  // A valid advert that must produce exactly one event with these fields.
  void expect_valid_with_event(const AdvertParams& p, std::uint8_t checksum_form,
                               std::uint8_t cause) {
    const Bytes frame = advert_frame(p);
    const auto message_size = parse_vrrp_frame(frame)->message_length;
    expect_run(frame, XDP_PASS, VIPD_REASON_OK, p.vrid);
    vipd_vrid_stat expected{};
    expected.rx_valid = 1;
    expected.rx_events = 1;
    expected.rx_bytes = message_size;
    expect_stat_eq(xdp_.stat(p.vrid), expected);

    const vipd_advert_event ev = single_advert_event();
    EXPECT_EQ(ev.hdr.size, sizeof(vipd_advert_event));
    EXPECT_GT(ev.hdr.ts_ns, 0u);
    EXPECT_EQ(ev.vrid, p.vrid);
    EXPECT_EQ(ev.version, static_cast<std::uint8_t>(p.version));
    EXPECT_EQ(ev.priority, p.priority);
    EXPECT_EQ(ev.family, static_cast<std::uint8_t>(p.source.family()));
    EXPECT_EQ(ev.interval_cs, p.interval_cs);
    EXPECT_EQ(ev.count, p.addresses.size());
    EXPECT_EQ(ev.checksum_form, checksum_form);
    EXPECT_EQ(ev.ttl, p.ttl);
    EXPECT_EQ(ev.cause, cause);
    if ((cause & VIPD_CAUSE_NEW) != 0) expect_no_replaced_record(ev);
    EXPECT_EQ(ev.addr_sum, address_sum(p.addresses));
    EXPECT_EQ(0, std::memcmp(ev.src, make_vipd_addr(p.source).addr, sizeof(ev.src)));
    const IpAddress group = p.source.is_v4() ? kGroup4 : kGroup6;
    EXPECT_EQ(0, std::memcmp(ev.dst, make_vipd_addr(group).addr, sizeof(ev.dst)));
  }

  XdpHarness xdp_;
};

// ---- valid adverts --------------------------------------------------------------------------

TEST_F(XdpAdvertTest, ValidV2PassesCountsAndEmitsNewEvent) {
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  const vipd_last_adv record = xdp_.last_adv(kVridV2);
  EXPECT_EQ(record.valid, 1);
  EXPECT_EQ(record.priority, 100);
  EXPECT_EQ(record.version, 2);
  EXPECT_EQ(record.family, 4);
  EXPECT_EQ(record.interval_cs, 100);
  EXPECT_EQ(record.addr_sum, address_sum(std::vector{kVip}));
  EXPECT_GT(record.rx_ns, 0u);
}

TEST_F(XdpAdvertTest, ValidV2WithPasswordAndInterval) {
  expect_valid_with_event(
      {.vrid = kVridV2Auth, .auth_type = core::AuthType::SimplePassword, .password = "secret"},
      VIPD_CSUM_V2, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidV3Ipv4PseudoHeaderChecksum) {
  expect_valid_with_event({.version = VrrpVersion::V3, .vrid = kVridV3, .interval_cs = 5},
                          VIPD_CSUM_V3_PSEUDO, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidV3Ipv4MessageOnlyChecksum) {
  expect_valid_with_event({.version = VrrpVersion::V3,
                           .vrid = kVridV3,
                           .interval_cs = 4095,
                           .form = V3Checksum::MessageOnly},
                          VIPD_CSUM_V3_MESSAGE_ONLY, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidV3Ipv6) {
  expect_valid_with_event({.version = VrrpVersion::V3,
                           .vrid = kVridV3Ipv6,
                           .interval_cs = 100,
                           .source = kSource6,
                           .addresses = {kVip6}},
                          VIPD_CSUM_V3_PSEUDO, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidV3Ipv6ManyAddresses) {
  std::vector<IpAddress> addresses;
  for (int i = 0; i < 60; ++i) {
    addresses.push_back(*IpAddress::parse("fd00:198:18::" + std::to_string(0x200 + i)));
  }
  expect_valid_with_event(
      {.version = VrrpVersion::V3, .vrid = kVridV3Ipv6, .source = kSource6, .addresses = addresses},
      VIPD_CSUM_V3_PSEUDO, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidV2MaximumAddressCount) {
  std::vector<IpAddress> addresses;
  for (std::uint32_t i = 0; i < 255; ++i) addresses.push_back(IpAddress::v4(0xC6120200 + i));
  expect_valid_with_event({.addresses = addresses}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidVlanTagged) {
  expect_valid_with_event({.tpids = {kTpidVlan}}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ValidQinQTagged) {
  expect_valid_with_event({.version = VrrpVersion::V3,
                           .vrid = kVridV3Ipv6,
                           .source = kSource6,
                           .addresses = {kVip6},
                           .tpids = {kTpidQinQ, kTpidVlan}},
                          VIPD_CSUM_V3_PSEUDO, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, ThreeVlanTagsAreNotParsed) {
  expect_run(advert_frame({.tpids = {kTpidQinQ, kTpidVlan, kTpidVlan}}), XDP_PASS, kNoVerdict,
             kNoVerdict);
  expect_no_counters();
}

TEST_F(XdpAdvertTest, ValidIpv4WithOptions) {
  // Router alert (4 bytes) and a 36-byte NOP run: IHL 15, the maximum.
  Bytes options{0x94, 0x04, 0x00, 0x00};
  options.resize(40, 0x01);
  expect_valid_with_event({.ipv4_options = options}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
}

TEST_F(XdpAdvertTest, EthernetPaddingIsIgnored) {
  Bytes frame = advert_frame({});
  frame.resize(frame.size() + 26, 0xAA);  // padded to the 60-byte minimum and beyond
  expect_run(frame, XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_bytes, 20u);
}

TEST_F(XdpAdvertTest, NonVrrpTrafficPassesUntouched) {
  expect_run(tcp_frame(kSource, kVip, 40000, 80), XDP_PASS, kNoVerdict, kNoVerdict);
  expect_run(tcp_frame(kSource6, kVip6, 40000, 443), XDP_PASS, kNoVerdict, kNoVerdict);
  expect_run(ethernet_frame({}, 0x88CC, Bytes(46, 0)), XDP_PASS, kNoVerdict, kNoVerdict);  // LLDP
  AdvertParams udp;
  Bytes frame = advert_frame(udp);
  frame[kEthernetHeaderSize + 9] = 17;  // protocol UDP
  expect_run(frame, XDP_PASS, kNoVerdict, kNoVerdict);
  Bytes fragment = advert_frame({});
  fragment[kEthernetHeaderSize + 6] = 0x20;  // more fragments
  expect_run(fragment, XDP_PASS, kNoVerdict, kNoVerdict);
  expect_run(ethernet_frame({}, kEthertypeIpv4, Bytes{}), XDP_PASS, kNoVerdict, kNoVerdict);
  expect_no_counters();
  EXPECT_TRUE(xdp_.drain_events().empty());
}

// ---- invalid adverts ------------------------------------------------------------------------

TEST_F(XdpAdvertTest, Ttl64IsBadTtl) {
  expect_invalid(advert_frame({.ttl = 64}), VIPD_REASON_BAD_TTL, kVridV2);
}

TEST_F(XdpAdvertTest, HopLimit1IsBadTtl) {
  expect_invalid(advert_frame({.version = VrrpVersion::V3,
                               .vrid = kVridV3Ipv6,
                               .source = kSource6,
                               .addresses = {kVip6},
                               .ttl = 1}),
                 VIPD_REASON_BAD_TTL, kVridV3Ipv6);
}

TEST_F(XdpAdvertTest, UnicastPeerIsExemptFromTtl) {
  xdp_.add_peer(kSource);
  expect_valid_with_event({.ttl = 64}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  expect_run(advert_frame({.source = kOtherSource, .ttl = 64}), XDP_PASS, VIPD_REASON_BAD_TTL,
             kVridV2);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_invalid[VIPD_REASON_BAD_TTL], 1u);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_valid, 1u);
  EXPECT_TRUE(xdp_.drain_events().empty());
}

TEST_F(XdpAdvertTest, BadChecksum) {
  Bytes frame = advert_frame({});
  vrrp_message_of(frame)[7] ^= 0x01;
  expect_invalid(frame, VIPD_REASON_BAD_CHECKSUM, kVridV2);
}

TEST_F(XdpAdvertTest, BadChecksumV3Ipv6IsNotAcceptedMessageOnly) {
  AdvertParams p{
      .version = VrrpVersion::V3, .vrid = kVridV3Ipv6, .source = kSource6, .addresses = {kVip6}};
  Bytes frame = advert_frame(p);
  // Recompute the checksum over the message only: valid for v3 IPv4 (RFC 9568), not for IPv6.
  std::uint8_t* message = vrrp_message_of(frame);
  message[6] = message[7] = 0;
  const std::uint16_t checksum = core::checksum_finish(core::checksum_add(0, {message, 24}));
  message[6] = static_cast<std::uint8_t>(checksum >> 8);
  message[7] = static_cast<std::uint8_t>(checksum & 0xFF);
  expect_invalid(frame, VIPD_REASON_BAD_CHECKSUM, kVridV3Ipv6);
}

TEST_F(XdpAdvertTest, BadChecksumInPassword) {
  Bytes frame = advert_frame(
      {.vrid = kVridV2Auth, .auth_type = core::AuthType::SimplePassword, .password = "secret"});
  frame.back() ^= 0x40;  // last byte of the authentication data
  expect_invalid(frame, VIPD_REASON_BAD_CHECKSUM, kVridV2Auth);
}

TEST_F(XdpAdvertTest, WrongVersion) {
  Bytes frame = advert_frame({});
  vrrp_message_of(frame)[0] = 0x41;
  expect_invalid(frame, VIPD_REASON_BAD_VERSION, kVridV2);
}

TEST_F(XdpAdvertTest, V2OverIpv6IsBadVersion) {
  Bytes frame = advert_frame(
      {.version = VrrpVersion::V3, .vrid = kVridV3Ipv6, .source = kSource6, .addresses = {kVip6}});
  vrrp_message_of(frame)[0] = 0x21;
  expect_invalid(frame, VIPD_REASON_BAD_VERSION, kVridV3Ipv6);
}

TEST_F(XdpAdvertTest, WrongType) {
  Bytes frame = advert_frame({});
  vrrp_message_of(frame)[0] = 0x22;
  expect_invalid(frame, VIPD_REASON_BAD_TYPE, kVridV2);
}

TEST_F(XdpAdvertTest, CountMismatch) {
  Bytes frame = advert_frame({});
  vrrp_message_of(frame)[3] = 2;
  expect_invalid(frame, VIPD_REASON_COUNT_MISMATCH, kVridV2);
}

TEST_F(XdpAdvertTest, CountZero) {
  Bytes frame = advert_frame({});
  vrrp_message_of(frame)[3] = 0;
  expect_invalid(frame, VIPD_REASON_COUNT_MISMATCH, kVridV2);
}

TEST_F(XdpAdvertTest, ZeroIntervalV2) {
  Bytes frame = advert_frame({});
  vrrp_message_of(frame)[5] = 0;
  fix_vrrp_checksum(frame);
  expect_invalid(frame, VIPD_REASON_ZERO_INTERVAL, kVridV2);
}

TEST_F(XdpAdvertTest, ZeroIntervalV3) {
  Bytes frame = advert_frame({.version = VrrpVersion::V3, .vrid = kVridV3});
  vrrp_message_of(frame)[4] = 0xF0;  // reserved bits set, interval 0
  vrrp_message_of(frame)[5] = 0;
  fix_vrrp_checksum(frame);
  expect_invalid(frame, VIPD_REASON_ZERO_INTERVAL, kVridV3);
}

TEST_F(XdpAdvertTest, UnknownVridCountsUnderSlotZero) {
  expect_invalid(advert_frame({.vrid = kVridUnknown}), VIPD_REASON_UNKNOWN_VRID, 0);
  expect_stat_eq(xdp_.stat(kVridUnknown), {});
}

TEST_F(XdpAdvertTest, InvalidAdvertOfUnknownVridCountsUnderSlotZero) {
  expect_invalid(advert_frame({.vrid = kVridUnknown, .ttl = 64}), VIPD_REASON_BAD_TTL, 0);
}

TEST_F(XdpAdvertTest, ConfiguredVersionMismatch) {
  expect_invalid(advert_frame({.version = VrrpVersion::V3, .vrid = kVridV2}),
                 VIPD_REASON_BAD_VERSION, kVridV2);
}

TEST_F(XdpAdvertTest, FamilyMismatch) {
  expect_invalid(
      advert_frame(
          {.version = VrrpVersion::V3, .vrid = kVridV3, .source = kSource6, .addresses = {kVip6}}),
      VIPD_REASON_FAMILY_MISMATCH, kVridV3);
}

TEST_F(XdpAdvertTest, AuthTypeMismatch) {
  expect_invalid(advert_frame({.vrid = kVridV2Auth}), VIPD_REASON_AUTH_TYPE_MISMATCH, kVridV2Auth);
}

TEST_F(XdpAdvertTest, WrongPassword) {
  expect_invalid(
      advert_frame(
          {.vrid = kVridV2Auth, .auth_type = core::AuthType::SimplePassword, .password = "secreT"}),
      VIPD_REASON_AUTH_MISMATCH, kVridV2Auth);
}

TEST_F(XdpAdvertTest, PasswordComparesAllEightBytes) {
  expect_invalid(advert_frame({.vrid = kVridV2Auth,
                               .auth_type = core::AuthType::SimplePassword,
                               .password = "secret12"}),
                 VIPD_REASON_AUTH_MISMATCH, kVridV2Auth);
}

TEST_F(XdpAdvertTest, V2IntervalMismatch) {
  expect_invalid(advert_frame({.vrid = kVridV2Auth,
                               .interval_cs = 200,
                               .auth_type = core::AuthType::SimplePassword,
                               .password = "secret"}),
                 VIPD_REASON_INTERVAL_MISMATCH, kVridV2Auth);
}

TEST_F(XdpAdvertTest, IpLengthLongerThanFrameIsTruncated) {
  Bytes frame = advert_frame({});
  frame[kEthernetHeaderSize + 3] += 4;  // total length 4 bytes past the frame end
  expect_invalid(frame, VIPD_REASON_TRUNCATED, kVridV2);
}

TEST_F(XdpAdvertTest, IpLengthShorterThanMessageIsCountMismatch) {
  Bytes frame = advert_frame({});
  frame[kEthernetHeaderSize + 3] -= 4;  // the frame holds more than the IP packet
  expect_invalid(frame, VIPD_REASON_COUNT_MISMATCH, kVridV2);
}

// Every cut of the frame: inside L2/IP no verdict, inside the VRRP message Truncated, counted under
// the VRID once its 8-byte header is in the frame; with drop_invalid those are dropped.
void check_truncation(XdpHarness& xdp, const Bytes& full, std::uint8_t vrid, bool drop_invalid) {
  const auto parsed = parse_vrrp_frame(full);
  ASSERT_TRUE(parsed.has_value());
  xdp.set_global(0, drop_invalid);
  std::uint64_t slot0 = 0;
  std::uint64_t slot_vrid = 0;
  for (std::size_t size = kEthernetHeaderSize; size < full.size(); ++size) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size));
    const int verdict = xdp.run(cut);
    if (size < parsed->message_offset) {
      EXPECT_EQ(verdict, XDP_PASS) << size;
      EXPECT_EQ(xdp.last().reason, kNoVerdict) << size;
      continue;
    }
    const bool header = size >= parsed->message_offset + core::kVrrpHeaderSize;
    EXPECT_EQ(xdp.last().reason, VIPD_REASON_TRUNCATED) << size;
    EXPECT_EQ(xdp.last().slot, header ? vrid : 0u) << size;
    EXPECT_EQ(verdict, header && drop_invalid ? XDP_DROP : XDP_PASS) << size;
    ++(header ? slot_vrid : slot0);
  }
  EXPECT_GT(slot0, 0u);
  EXPECT_GT(slot_vrid, 0u);
  EXPECT_EQ(xdp.stat(0).rx_invalid[VIPD_REASON_TRUNCATED], slot0);
  vipd_vrid_stat expected{};
  expected.rx_invalid[VIPD_REASON_TRUNCATED] = slot_vrid;
  expect_stat_eq(xdp.stat(vrid), expected);
  EXPECT_TRUE(xdp.drain_events().empty());
}

TEST_F(XdpAdvertTest, TruncatedAtEveryByteV2) {
  check_truncation(xdp_,
                   advert_frame({.vrid = kVridV2Auth,
                                 .auth_type = core::AuthType::SimplePassword,
                                 .password = "secret",
                                 .tpids = {kTpidVlan}}),
                   kVridV2Auth, false);
}

TEST_F(XdpAdvertTest, TruncatedAtEveryByteV3Ipv6DropInvalid) {
  check_truncation(xdp_,
                   advert_frame({.version = VrrpVersion::V3,
                                 .vrid = kVridV3Ipv6,
                                 .source = kSource6,
                                 .addresses = {kVip6, kSource6}}),
                   kVridV3Ipv6, true);
}

TEST_F(XdpAdvertTest, DropInvalidDropsOnlyInvalidAdvertsOfOurVrids) {
  xdp_.set_global(0, true);
  expect_run(advert_frame({.ttl = 64}), XDP_DROP, VIPD_REASON_BAD_TTL, kVridV2);
  expect_run(advert_frame({.vrid = kVridUnknown, .ttl = 64}), XDP_PASS, VIPD_REASON_BAD_TTL, 0);
  expect_run(advert_frame({.vrid = kVridUnknown}), XDP_PASS, VIPD_REASON_UNKNOWN_VRID, 0);
  expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  expect_run(tcp_frame(kSource, kVip, 1, 2), XDP_PASS, kNoVerdict, kNoVerdict);
}

// ---- coalescing -----------------------------------------------------------------------------

TEST_F(XdpAdvertTest, IdenticalAdvertIsCoalescedAndRefreshesTimestamp) {
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  const vipd_last_adv first = xdp_.last_adv(kVridV2);
  expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_TRUE(xdp_.drain_events().empty());
  const vipd_last_adv second = xdp_.last_adv(kVridV2);
  EXPECT_GT(second.rx_ns, first.rx_ns);
  EXPECT_EQ(second.priority, first.priority);
  EXPECT_EQ(0, std::memcmp(second.src, first.src, sizeof(first.src)));
  vipd_vrid_stat expected{};
  expected.rx_valid = 2;
  expected.rx_events = 1;
  expected.rx_bytes = 40;
  expect_stat_eq(xdp_.stat(kVridV2), expected);
}

TEST_F(XdpAdvertTest, EachChangeGivesOneEventWithItsCause) {
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  struct Step {
    AdvertParams params;
    std::uint8_t cause;  // 0: coalesced
  };
  const std::vector<Step> steps{
      {{.priority = 150}, VIPD_CAUSE_PRIORITY},
      {{.priority = 150}, 0},
      {{.priority = 150, .source = kOtherSource}, VIPD_CAUSE_SOURCE},
      {{.priority = 150, .source = kOtherSource}, 0},
      {{.priority = 150, .interval_cs = 200, .source = kOtherSource}, VIPD_CAUSE_INTERVAL},
      {{.priority = 150, .interval_cs = 200, .source = kOtherSource, .addresses = {kOtherVip}},
       VIPD_CAUSE_ADDRESSES},
      {{.priority = 150,
        .interval_cs = 200,
        .source = kOtherSource,
        .addresses = {kOtherVip, kVip}},
       VIPD_CAUSE_ADDRESSES},
      {{.priority = 150,
        .interval_cs = 200,
        .source = kOtherSource,
        .addresses = {kOtherVip, kVip}},
       0},
      {{.priority = 0, .interval_cs = 200, .source = kOtherSource, .addresses = {kOtherVip, kVip}},
       VIPD_CAUSE_PRIORITY | VIPD_CAUSE_PRIORITY_ZERO},
      {{.priority = 0, .interval_cs = 200, .source = kOtherSource, .addresses = {kOtherVip, kVip}},
       VIPD_CAUSE_PRIORITY_ZERO},
      {{.priority = 0, .interval_cs = 200, .source = kOtherSource, .addresses = {kOtherVip, kVip}},
       VIPD_CAUSE_PRIORITY_ZERO},
      {{.priority = 100},
       VIPD_CAUSE_PRIORITY | VIPD_CAUSE_SOURCE | VIPD_CAUSE_INTERVAL | VIPD_CAUSE_ADDRESSES},
  };
  std::uint64_t events = 1;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    const vipd_last_adv before = xdp_.last_adv(kVridV2);
    expect_run(advert_frame(steps[i].params), XDP_PASS, VIPD_REASON_OK, kVridV2);
    const auto drained = xdp_.drain_events();
    if (steps[i].cause == 0) {
      EXPECT_TRUE(drained.empty());
      continue;
    }
    ++events;
    ASSERT_EQ(drained.size(), 1u);
    const auto ev = drained[0].as<vipd_advert_event>();
    EXPECT_EQ(ev.cause, steps[i].cause);
    expect_replaced_record(ev, before);
    EXPECT_EQ(ev.priority, steps[i].params.priority);
    EXPECT_EQ(ev.interval_cs, steps[i].params.interval_cs);
    EXPECT_EQ(ev.count, steps[i].params.addresses.size());
    EXPECT_EQ(ev.addr_sum, address_sum(steps[i].params.addresses));
    const vipd_last_adv record = xdp_.last_adv(kVridV2);
    EXPECT_EQ(record.priority, steps[i].params.priority);
    EXPECT_EQ(record.interval_cs, steps[i].params.interval_cs);
    EXPECT_EQ(record.addr_sum, address_sum(steps[i].params.addresses));
    EXPECT_EQ(0, std::memcmp(record.src, steps[i].params.source.data(), 4));
  }
  EXPECT_EQ(xdp_.stat(kVridV2).rx_events, events);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_valid, steps.size() + 1);
}

TEST_F(XdpAdvertTest, ReplacedRecordKeepsTheHiddenAdvertsTime) {
  expect_valid_with_event({.priority = 120}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  expect_run(advert_frame({.priority = 120}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_TRUE(xdp_.drain_events().empty());
  // The coalesced advert moved rx_ns past the event's time; the replacing event reports the
  // record's rx_ns (the hidden advert), not the first event's.
  const vipd_last_adv hidden = xdp_.last_adv(kVridV2);
  expect_run(advert_frame({.priority = 130, .source = kOtherSource}), XDP_PASS, VIPD_REASON_OK,
             kVridV2);
  const vipd_advert_event ev = single_advert_event();
  EXPECT_EQ(ev.cause, VIPD_CAUSE_SOURCE | VIPD_CAUSE_PRIORITY);
  expect_replaced_record(ev, hidden);
  EXPECT_EQ(ev.prev_priority, 120);
  EXPECT_EQ(0, std::memcmp(ev.prev_src, kSource.data(), 4));
  EXPECT_EQ(ev.prev_version, 2);
  EXPECT_EQ(ev.prev_family, 4);
  EXPECT_EQ(ev.prev_interval_cs, 100);
  EXPECT_LT(ev.prev_rx_ns, ev.hdr.ts_ns);
  EXPECT_EQ(0, std::memcmp(ev.src, kOtherSource.data(), 4));
}

TEST_F(XdpAdvertTest, DeliverAllEmitsEveryAdvertAndStillCoalescesTheRecord) {
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  xdp_.set_deliver_all(kVridV2, true);
  constexpr int kRepeats = 3;
  for (int i = 0; i < kRepeats; ++i) {
    SCOPED_TRACE("repeat " + std::to_string(i));
    const vipd_last_adv before = xdp_.last_adv(kVridV2);
    expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
    const vipd_advert_event ev = single_advert_event();
    EXPECT_EQ(ev.cause, VIPD_CAUSE_DELIVER_ALL);
    EXPECT_EQ(ev.priority, 100);
    expect_replaced_record(ev, before);
    const vipd_last_adv after = xdp_.last_adv(kVridV2);
    EXPECT_EQ(after.rx_ns, ev.hdr.ts_ns);
    EXPECT_GT(after.rx_ns, before.rx_ns);
  }
  // A change still says what changed, without the deliver-all bit.
  expect_run(advert_frame({.priority = 90}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_EQ(single_advert_event().cause, VIPD_CAUSE_PRIORITY);
  EXPECT_EQ(xdp_.last_adv(kVridV2).priority, 90);
  // Other VRIDs keep coalescing.
  expect_valid_with_event({.version = VrrpVersion::V3, .vrid = kVridV3}, VIPD_CSUM_V3_PSEUDO,
                          VIPD_CAUSE_NEW);
  expect_run(advert_frame({.version = VrrpVersion::V3, .vrid = kVridV3}), XDP_PASS, VIPD_REASON_OK,
             kVridV3);
  EXPECT_TRUE(xdp_.drain_events().empty());

  xdp_.set_deliver_all(kVridV2, false);
  const vipd_last_adv before = xdp_.last_adv(kVridV2);
  expect_run(advert_frame({.priority = 90}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_TRUE(xdp_.drain_events().empty());
  EXPECT_GT(xdp_.last_adv(kVridV2).rx_ns, before.rx_ns);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_events, 1u + kRepeats + 1u);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_valid, 1u + kRepeats + 2u);
}

TEST_F(XdpAdvertTest, InvalidAdvertDoesNotTouchTheRecord) {
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  const vipd_last_adv before = xdp_.last_adv(kVridV2);
  expect_run(advert_frame({.priority = 0, .ttl = 64}), XDP_PASS, VIPD_REASON_BAD_TTL, kVridV2);
  const vipd_last_adv after = xdp_.last_adv(kVridV2);
  EXPECT_EQ(after.rx_ns, before.rx_ns);
  EXPECT_EQ(after.priority, 100);
  EXPECT_TRUE(xdp_.drain_events().empty());
}

TEST_F(XdpAdvertTest, StaleRecordReEmits) {
  xdp_.set_global(200 * kMs, false);
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_TRUE(xdp_.drain_events().empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_EQ(single_advert_event().cause, VIPD_CAUSE_STALE);
  expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_TRUE(xdp_.drain_events().empty());
}

TEST_F(XdpAdvertTest, StaleZeroMeansNeverStale) {
  xdp_.set_global(0, false);
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  expect_run(advert_frame({}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_TRUE(xdp_.drain_events().empty());
}

TEST_F(XdpAdvertTest, FullRingBufferCountsDroppedEventsAndKeepsRecord) {
  // Priority 0 always emits; never draining fills the 256 KiB ring buffer.
  const Bytes frame = advert_frame({.priority = 0});
  constexpr std::uint64_t kSent = 5000;
  for (std::uint64_t i = 0; i < kSent; ++i) ASSERT_EQ(xdp_.run(frame), XDP_PASS);
  const vipd_vrid_stat stat = xdp_.stat(kVridV2);
  EXPECT_EQ(stat.rx_valid, kSent);
  EXPECT_GT(stat.rx_events_dropped, 0u);
  EXPECT_EQ(stat.rx_events + stat.rx_events_dropped, kSent);
  EXPECT_EQ(xdp_.drain_events().size(), stat.rx_events);
  // Room again: a changed advert is delivered.
  expect_run(advert_frame({.priority = 7}), XDP_PASS, VIPD_REASON_OK, kVridV2);
  EXPECT_EQ(single_advert_event().cause, VIPD_CAUSE_PRIORITY);
}

TEST_F(XdpAdvertTest, DeliverAllWithFullRingBufferStillRefreshesTheRecord) {
  expect_valid_with_event({}, VIPD_CSUM_V2, VIPD_CAUSE_NEW);
  xdp_.set_deliver_all(kVridV2, true);
  const Bytes frame = advert_frame({});
  constexpr std::uint64_t kSent = 5000;
  for (std::uint64_t i = 0; i < kSent; ++i) ASSERT_EQ(xdp_.run(frame), XDP_PASS);
  const vipd_vrid_stat stat = xdp_.stat(kVridV2);
  EXPECT_GT(stat.rx_events_dropped, 0u);
  EXPECT_EQ(stat.rx_events + stat.rx_events_dropped, kSent + 1);
  // Unchanged adverts whose event was dropped still count for Master_Down (rx_ns moves on).
  const vipd_last_adv before = xdp_.last_adv(kVridV2);
  ASSERT_EQ(xdp_.run(frame), XDP_PASS);
  EXPECT_EQ(xdp_.stat(kVridV2).rx_events_dropped, stat.rx_events_dropped + 1);
  EXPECT_GT(xdp_.last_adv(kVridV2).rx_ns, before.rx_ns);
  EXPECT_EQ(xdp_.drain_events().size(), stat.rx_events - 1);  // the NEW event was drained above
}

// ---- ARP / neighbour advert watch -----------------------------------------------------------

class XdpConflictTest : public XdpAdvertTest {
 protected:
  void SetUp() override {
    XdpAdvertTest::SetUp();
    xdp_.add_vip(kVip, kVridV2);
    xdp_.add_vip(kVip6, kVridV3Ipv6);
    xdp_.add_own_mac(kOwnMac);
  }
  void expect_conflict_event(const IpAddress& vip, std::uint32_t vrid, const Mac& mac) {
    const auto events = xdp_.drain_events();
    ASSERT_EQ(events.size(), 1u);
    ASSERT_EQ(events[0].type(), VIPD_EVENT_VIP_CONFLICT);
    ASSERT_EQ(events[0].bytes.size(), sizeof(vipd_conflict_event));
    const auto ev = events[0].as<vipd_conflict_event>();
    EXPECT_EQ(ev.hdr.size, sizeof(vipd_conflict_event));
    EXPECT_EQ(ev.vrid, vrid);
    EXPECT_EQ(ev.family, static_cast<std::uint8_t>(vip.family()));
    EXPECT_EQ(0, std::memcmp(ev.mac, mac.data(), 6));
    EXPECT_EQ(0, std::memcmp(ev.ip, make_vipd_addr(vip).addr, sizeof(ev.ip)));
  }
};

TEST_F(XdpConflictTest, ForeignArpReplyForVipIsReportedOncePerInterval) {
  const Bytes reply = arp_frame(2, kForeignMac, kVip, kOwnMac, kSource);
  EXPECT_EQ(xdp_.run(reply), XDP_PASS);
  expect_conflict_event(kVip, kVridV2, kForeignMac);
  EXPECT_EQ(xdp_.vip_state(kVip).conflicts, 1u);
  const std::uint64_t first_ns = xdp_.vip_state(kVip).last_event_ns;
  EXPECT_GT(first_ns, 0u);
  EXPECT_EQ(xdp_.run(reply), XDP_PASS);
  EXPECT_TRUE(xdp_.drain_events().empty());  // rate-limited
  EXPECT_EQ(xdp_.vip_state(kVip).conflicts, 2u);
  EXPECT_EQ(xdp_.vip_state(kVip).last_event_ns, first_ns);
}

// A probe answered by two rivals reports both; a flood of forged replies from ever new MACs
// costs at most VIPD_CONFLICT_EVENTS_PER_INTERVAL events per VIP and second.
TEST_F(XdpConflictTest, DifferentMacsAreReportedUpToTheWindowLimit) {
  for (std::uint8_t i = 0; i < 20; ++i) {
    const Mac forged = {0x02, 0x00, 0x5e, 0x10, 0x20, i};
    EXPECT_EQ(xdp_.run(arp_frame(2, forged, kVip, kOwnMac, kSource)), XDP_PASS);
  }
  const auto events = xdp_.drain_events();
  EXPECT_EQ(events.size(), static_cast<std::size_t>(VIPD_CONFLICT_EVENTS_PER_INTERVAL));
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto ev = events[i].as<vipd_conflict_event>();
    EXPECT_EQ(ev.mac[5], i) << "event " << i;
  }
  EXPECT_EQ(xdp_.vip_state(kVip).conflicts, 20u);
  EXPECT_EQ(xdp_.vip_state(kVip).window_events, VIPD_CONFLICT_EVENTS_PER_INTERVAL);
}

TEST_F(XdpConflictTest, ForeignGratuitousArpRequestIsReported) {
  EXPECT_EQ(xdp_.run(arp_frame(1, kForeignMac, kVip, Mac{}, kVip, {.tpids = {kTpidVlan}})),
            XDP_PASS);
  expect_conflict_event(kVip, kVridV2, kForeignMac);
  EXPECT_EQ(xdp_.vip_state(kVip).conflicts, 1u);
}

TEST_F(XdpConflictTest, OwnArpAndOtherAddressesAreIgnored) {
  EXPECT_EQ(xdp_.run(arp_frame(2, kOwnMac, kVip, Mac{}, kVip)), XDP_PASS);
  EXPECT_EQ(xdp_.run(arp_frame(1, kForeignMac, kOtherVip, Mac{}, kVip)), XDP_PASS);
  EXPECT_EQ(xdp_.run(arp_frame(3, kForeignMac, kVip, Mac{}, kVip)), XDP_PASS);  // RARP op
  EXPECT_TRUE(xdp_.drain_events().empty());
  EXPECT_EQ(xdp_.vip_state(kVip).conflicts, 0u);
  expect_no_counters();
}

TEST_F(XdpConflictTest, ForeignNeighborAdvertForIpv6VipIsReported) {
  EXPECT_EQ(xdp_.run(neighbor_advert_frame(kVip6, kVip6, kForeignMac)), XDP_PASS);
  expect_conflict_event(kVip6, kVridV3Ipv6, kForeignMac);
  EXPECT_EQ(xdp_.vip_state(kVip6).conflicts, 1u);
  EXPECT_EQ(xdp_.run(neighbor_advert_frame(kVip6, kVip6, kOwnMac)), XDP_PASS);
  EXPECT_TRUE(xdp_.drain_events().empty());
  EXPECT_EQ(xdp_.vip_state(kVip6).conflicts, 1u);
}

}  // namespace
}  // namespace vipd::test
