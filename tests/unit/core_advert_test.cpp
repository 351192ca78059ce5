// VRRP advertisement codec: round trips, known-answer packets, every DecodeError and the documented
// check order (advert.h), and the specs the encoder must refuse.
#include "vipd/core/advert.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vipd/core/ip_address.h"

namespace vipd::core {
namespace {

using Bytes = std::vector<std::uint8_t>;

IpAddress ip(const char* text) {
  const std::optional<IpAddress> parsed = IpAddress::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(IpAddress{});
}

const IpAddress kSource4 = ip("198.18.0.1");
const IpAddress kPeer4 = ip("198.18.0.2");
const IpAddress kGroup4 = ip("224.0.0.18");
const IpAddress kVip4 = ip("198.18.0.100");
const IpAddress kSource6 = ip("fe80::1");
const IpAddress kPeer6 = ip("fd00:198:18::2");
const IpAddress kGroup6 = ip("ff02::12");
const IpAddress kVip6 = ip("fd00:198:18::100");

// Independent of the library: RFC 1071 written out, optionally preceded by the pseudo-header.
std::uint16_t reference_checksum(const Bytes& message, const IpAddress* source = nullptr,
                                 const IpAddress* destination = nullptr) {
  std::uint64_t sum = 0;
  auto add = [&sum](const std::uint8_t* bytes, std::size_t size) {
    for (std::size_t i = 0; i < size; i += 2) {
      sum += std::uint64_t{bytes[i]} << 8 | (i + 1 < size ? bytes[i + 1] : 0);
    }
  };
  if (source != nullptr) {
    add(source->data(), source->size());
    add(destination->data(), destination->size());
    sum += kIpProtoVrrp + message.size();  // both layouts reduce to these two words for < 64 KiB
  }
  add(message.data(), message.size());
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xFFFF);
}

// Rewrites the checksum field after a test edits the packet, so that only the edit is wrong.
void reseal(Bytes& message, const IpAddress* source = nullptr,
            const IpAddress* destination = nullptr) {
  message[6] = message[7] = 0;
  const std::uint16_t checksum = reference_checksum(message, source, destination);
  message[6] = static_cast<std::uint8_t>(checksum >> 8);
  message[7] = static_cast<std::uint8_t>(checksum);
}

void reseal_v3(Bytes& message, const IpAddress& source, const IpAddress& destination) {
  reseal(message, &source, &destination);
}

Bytes encode(const AdvertSpec& spec, const IpAddress& source, const IpAddress& destination,
             V3Checksum form = V3Checksum::PseudoHeader) {
  Bytes out(kMaxAdvertSize);
  const std::size_t size = encode_advert(spec, source, destination, out, form);
  EXPECT_NE(size, 0u) << "encode failed";
  out.resize(size);
  return out;
}

PacketMeta meta(const IpAddress& source, const IpAddress& destination, std::uint8_t ttl = 255) {
  PacketMeta m;
  m.source = source;
  m.destination = destination;
  m.ttl = ttl;
  return m;
}

AdvertSpec v2_spec(const std::vector<IpAddress>& vips) {
  AdvertSpec spec;
  spec.version = VrrpVersion::V2;
  spec.vrid = 51;
  spec.priority = 100;
  spec.interval_cs = 100;
  spec.addresses = vips;
  return spec;
}

AdvertSpec v3_spec(const std::vector<IpAddress>& vips, std::uint16_t interval_cs = 100) {
  AdvertSpec spec = v2_spec(vips);
  spec.version = VrrpVersion::V3;
  spec.interval_cs = interval_cs;
  return spec;
}

Expectation v2_expectation(AuthType auth = AuthType::None, const char* password = "") {
  Expectation e;
  e.version = VrrpVersion::V2;
  e.family = Family::V4;
  e.auth_type = auth;
  e.auth_key = make_auth_key(password);
  e.v2_interval_s = 1;
  return e;
}

Expectation v3_expectation(Family family) {
  Expectation e;
  e.version = VrrpVersion::V3;
  e.family = family;
  return e;
}

std::vector<IpAddress> addresses_of(const Advert& advert) {
  std::vector<IpAddress> out;
  for (std::size_t i = 0; i < advert.count; ++i) out.push_back(advert.address(i));
  return out;
}

DecodeError decode_error(const Bytes& message, const PacketMeta& m) {
  return decode_advert(message, m).error();
}

DecodeError decode_error(const Bytes& message, const PacketMeta& m, const Expectation& e) {
  return decode_advert(message, m, e).error();
}

// The keepalived-style advert of the task, computed by hand (and cross-checked with scapy):
// 2133 + 6401 + 0101 + c612 + 0064 + 6970 + 6661 + 696c + 6f76 = 2f55e -> f560 -> ~ = 0a9f.
const Bytes kKeepalivedV2 = {0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0x0a, 0x9f, 0xc6, 0x12,
                             0x00, 0x64, 'i',  'p',  'f',  'a',  'i',  'l',  'o',  'v'};
// v3, vrid 51, prio 100, interval 100 cs, VIP 198.18.0.100, from 198.18.0.1 to 224.0.0.18.
// Message: 3133 + 6401 + 0064 + c612 + 0064 = 15c0e. Pseudo-header: 1a6a1 (checksum_test.cpp).
// With pseudo-header: 302af -> 02b2 -> ~ = fd4d. Message only: 5c0f -> ~ = a3f0.
const Bytes kV3Pseudo = {0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xfd, 0x4d, 0xc6, 0x12, 0x00, 0x64};
const Bytes kV3MessageOnly = {0x31, 0x33, 0x64, 0x01, 0x00, 0x64,
                              0xa3, 0xf0, 0xc6, 0x12, 0x00, 0x64};
// v3 IPv6, VIP fd00:198:18::100 from fe80::1; message 3133+6401+0064+fd00+0198+0018+0100 = 2d0c1.
// To ff02::12 (pseudo 1fe1d): 4cede -> ced2 -> ~ = 6c97 (scapy agrees).
const Bytes kV3Ipv6Group = {0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x6c, 0x97, 0xfd, 0x00, 0x01, 0x98,
                            0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00};

// ---------------------------------------------------------------------------------------------
// Known answers

TEST(AdvertKnownAnswer, KeepalivedV2WithPasswordEncodesByteForByte) {
  const std::vector<IpAddress> vips = {kVip4};
  AdvertSpec spec = v2_spec(vips);
  spec.auth_type = AuthType::SimplePassword;
  spec.auth_key = make_auth_key("ipfailover");  // keepalived keeps the first 8 characters
  EXPECT_EQ(encode(spec, kSource4, kGroup4), kKeepalivedV2);
  EXPECT_EQ(reference_checksum(kKeepalivedV2), 0) << "the hand-computed checksum is right";
}

TEST(AdvertKnownAnswer, KeepalivedV2Decodes) {
  const DecodeResult result = decode_advert(kKeepalivedV2, meta(kSource4, kGroup4),
                                            v2_expectation(AuthType::SimplePassword, "ipfailov"));
  ASSERT_TRUE(result.ok()) << to_string(result.error());
  const Advert& advert = result.advert();
  EXPECT_EQ(advert.version, VrrpVersion::V2);
  EXPECT_EQ(advert.vrid, 51);
  EXPECT_EQ(advert.priority, 100);
  EXPECT_EQ(advert.count, 1);
  EXPECT_EQ(advert.interval_cs, 100);
  EXPECT_EQ(advert.auth_type, AuthType::SimplePassword);
  EXPECT_EQ(advert.auth_data, make_auth_key("ipfailov"));
  EXPECT_EQ(advert.family, Family::V4);
  EXPECT_EQ(advert.checksum_form, ChecksumForm::V2Message);
  EXPECT_EQ(advert.address(0), kVip4);
}

TEST(AdvertKnownAnswer, V3Ipv4BothChecksumForms) {
  const std::vector<IpAddress> vips = {kVip4};
  EXPECT_EQ(encode(v3_spec(vips), kSource4, kGroup4, V3Checksum::PseudoHeader), kV3Pseudo);
  EXPECT_EQ(encode(v3_spec(vips), kSource4, kGroup4, V3Checksum::MessageOnly), kV3MessageOnly);
  EXPECT_EQ(decode_advert(kV3Pseudo, meta(kSource4, kGroup4)).advert().checksum_form,
            ChecksumForm::V3PseudoHeader);
  EXPECT_EQ(decode_advert(kV3MessageOnly, meta(kSource4, kGroup4)).advert().checksum_form,
            ChecksumForm::V3MessageOnly);
  EXPECT_EQ(reference_checksum(kV3Pseudo, &kSource4, &kGroup4), 0);
  EXPECT_EQ(reference_checksum(kV3MessageOnly), 0);
}

TEST(AdvertKnownAnswer, V3Ipv6ToTheGroup) {
  const std::vector<IpAddress> vips = {kVip6};
  EXPECT_EQ(encode(v3_spec(vips), kSource6, kGroup6), kV3Ipv6Group);
  const DecodeResult result =
      decode_advert(kV3Ipv6Group, meta(kSource6, kGroup6), v3_expectation(Family::V6));
  ASSERT_TRUE(result.ok()) << to_string(result.error());
  EXPECT_EQ(result.advert().address(0), kVip6);
  EXPECT_EQ(result.advert().checksum_form, ChecksumForm::V3PseudoHeader);
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(AdvertRoundTrip, V2WithoutAuthentication) {
  const std::vector<IpAddress> vips = {ip("198.18.0.100"), ip("198.18.0.200"), ip("198.18.1.7")};
  AdvertSpec spec = v2_spec(vips);
  spec.vrid = 7;
  spec.priority = 254;
  spec.interval_cs = 300;
  const Bytes message = encode(spec, kSource4, kGroup4);
  ASSERT_EQ(message.size(), 8u + 3 * 4 + 8);
  EXPECT_EQ(encoded_size(spec), message.size());
  EXPECT_EQ(Bytes(message.end() - 8, message.end()), Bytes(8, 0)) << "auth data must be zero";

  Expectation expectation = v2_expectation();
  expectation.v2_interval_s = 3;
  const DecodeResult result = decode_advert(message, meta(kSource4, kGroup4), expectation);
  ASSERT_TRUE(result.ok()) << to_string(result.error());
  const Advert& advert = result.advert();
  EXPECT_EQ(advert.version, VrrpVersion::V2);
  EXPECT_EQ(advert.vrid, 7);
  EXPECT_EQ(advert.priority, 254);
  EXPECT_EQ(advert.count, 3);
  EXPECT_EQ(advert.interval_cs, 300);
  EXPECT_EQ(advert.auth_type, AuthType::None);
  EXPECT_EQ(advert.checksum_form, ChecksumForm::V2Message);
  EXPECT_EQ(addresses_of(advert), vips);
  // A view into the packet, not a copy.
  EXPECT_EQ(advert.address_bytes.data(), message.data() + 8);
  EXPECT_EQ(advert.address_bytes.size(), 12u);
}

TEST(AdvertRoundTrip, V2WithSimplePassword) {
  const std::vector<IpAddress> vips = {kVip4};
  AdvertSpec spec = v2_spec(vips);
  spec.auth_type = AuthType::SimplePassword;
  spec.auth_key = make_auth_key("s3cr3t");
  const Bytes message = encode(spec, kSource4, kGroup4);
  const Bytes expected_auth = {'s', '3', 'c', 'r', '3', 't', 0, 0};
  EXPECT_EQ(Bytes(message.end() - 8, message.end()), expected_auth);
  const DecodeResult result = decode_advert(message, meta(kSource4, kGroup4),
                                            v2_expectation(AuthType::SimplePassword, "s3cr3t"));
  ASSERT_TRUE(result.ok()) << to_string(result.error());
  EXPECT_EQ(result.advert().auth_type, AuthType::SimplePassword);
  EXPECT_EQ(result.advert().auth_data, make_auth_key("s3cr3t"));
}

TEST(AdvertRoundTrip, V2UnicastIsChecksummedOverTheMessageOnly) {
  // v2 has no pseudo-header: the same bytes are valid whatever the addresses.
  const std::vector<IpAddress> vips = {kVip4};
  const Bytes message = encode(v2_spec(vips), kSource4, kPeer4);
  EXPECT_EQ(message, encode(v2_spec(vips), kSource4, kGroup4));
  EXPECT_TRUE(decode_advert(message, meta(ip("198.18.0.99"), kGroup4)).ok());
}

TEST(AdvertRoundTrip, V2LargestInterval) {
  const std::vector<IpAddress> vips = {kVip4};
  AdvertSpec spec = v2_spec(vips);
  spec.interval_cs = 25500;
  const Bytes message = encode(spec, kSource4, kGroup4);
  EXPECT_EQ(message[5], 255);
  EXPECT_EQ(decode_advert(message, meta(kSource4, kGroup4)).advert().interval_cs, 25500);
}

TEST(AdvertRoundTrip, V3Ipv4PseudoHeader) {
  const std::vector<IpAddress> vips = {kVip4, ip("198.18.0.101")};
  for (const std::uint16_t interval : {std::uint16_t{1}, std::uint16_t{100}, kMaxIntervalCs}) {
    const Bytes message = encode(v3_spec(vips, interval), kSource4, kGroup4);
    ASSERT_EQ(message.size(), 8u + 2 * 4);
    const DecodeResult result =
        decode_advert(message, meta(kSource4, kGroup4), v3_expectation(Family::V4));
    ASSERT_TRUE(result.ok()) << to_string(result.error());
    EXPECT_EQ(result.advert().version, VrrpVersion::V3);
    EXPECT_EQ(result.advert().interval_cs, interval);
    EXPECT_EQ(result.advert().auth_type, AuthType::None);
    EXPECT_EQ(result.advert().checksum_form, ChecksumForm::V3PseudoHeader);
    EXPECT_EQ(addresses_of(result.advert()), vips);
    // Only the message-only form would survive a different destination.
    EXPECT_EQ(decode_error(message, meta(kSource4, kPeer4)), DecodeError::BadChecksum);
  }
}

TEST(AdvertRoundTrip, V3Ipv4MessageOnlyRfc9568) {
  const std::vector<IpAddress> vips = {kVip4};
  const Bytes message = encode(v3_spec(vips, 10), kSource4, kGroup4, V3Checksum::MessageOnly);
  EXPECT_EQ(reference_checksum(message), 0);
  for (const IpAddress& destination : {kGroup4, kPeer4}) {
    const DecodeResult result = decode_advert(message, meta(kSource4, destination));
    ASSERT_TRUE(result.ok()) << to_string(result.error());
    EXPECT_EQ(result.advert().checksum_form, ChecksumForm::V3MessageOnly);
    EXPECT_EQ(result.advert().interval_cs, 10);
  }
}

TEST(AdvertRoundTrip, V3Ipv4UnicastPeerUsesThePeerInThePseudoHeader) {
  const std::vector<IpAddress> vips = {kVip4};
  const Bytes message = encode(v3_spec(vips), kSource4, kPeer4);
  EXPECT_EQ(reference_checksum(message, &kSource4, &kPeer4), 0);
  EXPECT_EQ(decode_advert(message, meta(kSource4, kPeer4)).advert().checksum_form,
            ChecksumForm::V3PseudoHeader);
  EXPECT_EQ(decode_error(message, meta(kSource4, kGroup4)), DecodeError::BadChecksum);
}

TEST(AdvertRoundTrip, V3Ipv6ChecksumBindsTheRealDestination) {
  const std::vector<IpAddress> vips = {kVip6, ip("fd00:198:18::101")};
  const Bytes to_group = encode(v3_spec(vips, 5), kSource6, kGroup6);
  const Bytes to_peer = encode(v3_spec(vips, 5), kSource6, kPeer6);
  ASSERT_EQ(to_group.size(), 8u + 2 * 16);
  EXPECT_NE(to_group, to_peer);
  EXPECT_EQ(reference_checksum(to_group, &kSource6, &kGroup6), 0);
  EXPECT_EQ(reference_checksum(to_peer, &kSource6, &kPeer6), 0);

  for (const auto& [message, destination] :
       {std::pair{to_group, kGroup6}, std::pair{to_peer, kPeer6}}) {
    const DecodeResult result =
        decode_advert(message, meta(kSource6, destination), v3_expectation(Family::V6));
    ASSERT_TRUE(result.ok()) << to_string(result.error());
    EXPECT_EQ(result.advert().family, Family::V6);
    EXPECT_EQ(result.advert().interval_cs, 5);
    EXPECT_EQ(result.advert().checksum_form, ChecksumForm::V3PseudoHeader);
    EXPECT_EQ(addresses_of(result.advert()), vips);
  }
  EXPECT_EQ(decode_error(to_group, meta(kSource6, kPeer6)), DecodeError::BadChecksum);
  EXPECT_EQ(decode_error(to_peer, meta(kSource6, kGroup6)), DecodeError::BadChecksum);
  EXPECT_EQ(decode_error(to_group, meta(ip("fe80::2"), kGroup6)), DecodeError::BadChecksum);
}

TEST(AdvertRoundTrip, V3Ipv6AlwaysUsesThePseudoHeader) {
  // RFC 9568's message-only form is IPv4 only; asking for it over IPv6 changes nothing.
  const std::vector<IpAddress> vips = {kVip6};
  EXPECT_EQ(encode(v3_spec(vips), kSource6, kGroup6, V3Checksum::MessageOnly), kV3Ipv6Group);
  Bytes message_only = kV3Ipv6Group;
  reseal(message_only);
  EXPECT_EQ(decode_error(message_only, meta(kSource6, kGroup6)), DecodeError::BadChecksum);
}

TEST(AdvertRoundTrip, MaximumAddressCounts) {
  std::vector<IpAddress> v4(255);
  std::vector<IpAddress> v6(255);
  for (std::uint32_t i = 0; i < 255; ++i) {
    v4[i] = IpAddress::v4(0xC6120100 + i);
    std::uint8_t bytes[16] = {0xfd, 0x00, 0x01, 0x98, 0x00, 0x18};
    bytes[15] = static_cast<std::uint8_t>(i);
    v6[i] = IpAddress::from_bytes(Family::V6, bytes);
  }
  const Bytes v2 = encode(v2_spec(v4), kSource4, kGroup4);
  EXPECT_EQ(v2.size(), 8u + 255 * 4 + 8);
  EXPECT_EQ(addresses_of(decode_advert(v2, meta(kSource4, kGroup4)).advert()), v4);
  const Bytes v3 = encode(v3_spec(v6), kSource6, kGroup6);
  EXPECT_EQ(v3.size(), 8u + 255 * 16);
  EXPECT_LE(v3.size(), kMaxAdvertSize);
  EXPECT_EQ(addresses_of(decode_advert(v3, meta(kSource6, kGroup6)).advert()), v6);
}

TEST(AdvertRoundTrip, V3ReservedBitsAreIgnoredOnReceipt) {
  Bytes message = kV3Pseudo;
  message[4] = static_cast<std::uint8_t>(0xF0 | message[4]);
  reseal_v3(message, kSource4, kGroup4);
  const DecodeResult result = decode_advert(message, meta(kSource4, kGroup4));
  ASSERT_TRUE(result.ok()) << to_string(result.error());
  EXPECT_EQ(result.advert().interval_cs, 100);
}

TEST(AdvertRoundTrip, V2AuthDataIsIgnoredWithoutPassword) {
  Bytes message = kKeepalivedV2;
  message[4] = static_cast<std::uint8_t>(AuthType::None);
  reseal(message);
  EXPECT_EQ(decode_error(message, meta(kSource4, kGroup4), v2_expectation()), DecodeError{});
}

// ---------------------------------------------------------------------------------------------
// Every DecodeError, each from an otherwise valid packet

TEST(AdvertDecodeError, TruncatedForEveryLengthBelowTheHeader) {
  for (const Bytes& valid : {kKeepalivedV2, kV3Pseudo, kV3Ipv6Group}) {
    for (std::size_t length = 0; length < kVrrpHeaderSize; ++length) {
      const Bytes prefix(valid.begin(), valid.begin() + length);
      const IpAddress& source = valid == kV3Ipv6Group ? kSource6 : kSource4;
      const IpAddress& group = valid == kV3Ipv6Group ? kGroup6 : kGroup4;
      EXPECT_EQ(decode_error(prefix, meta(source, group)), DecodeError::Truncated) << length;
    }
  }
  EXPECT_EQ(decode_advert(std::span<const std::uint8_t>{}, meta(kSource4, kGroup4)).error(),
            DecodeError::Truncated);
}

TEST(AdvertDecodeError, BadTtl) {
  for (const int ttl : {0, 1, 64, 128, 254}) {
    EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4, static_cast<std::uint8_t>(ttl))),
              DecodeError::BadTtl);
    EXPECT_EQ(decode_error(kV3Ipv6Group, meta(kSource6, kGroup6, static_cast<std::uint8_t>(ttl))),
              DecodeError::BadTtl);
  }
}

TEST(AdvertDecodeError, TtlExemptPeerBypassesOnlyTheTtlCheck) {
  PacketMeta unicast = meta(kSource4, kGroup4, 64);
  unicast.ttl_exempt = true;
  EXPECT_TRUE(decode_advert(kKeepalivedV2, unicast).ok());
  Bytes corrupted = kKeepalivedV2;
  corrupted[2] = 101;
  EXPECT_EQ(decode_error(corrupted, unicast), DecodeError::BadChecksum);
}

TEST(AdvertDecodeError, BadVersion) {
  for (int version = 0; version < 16; ++version) {
    if (version == 2 || version == 3) continue;
    Bytes message = kKeepalivedV2;
    message[0] = static_cast<std::uint8_t>(version << 4 | 1);
    reseal(message);
    EXPECT_EQ(decode_error(message, meta(kSource4, kGroup4)), DecodeError::BadVersion) << version;
  }
}

TEST(AdvertDecodeError, V2OverIpv6IsBadVersion) {
  // A well-formed v2 message with one 16-byte address, arriving over IPv6.
  Bytes message = {0x21, 51, 100, 1, 0, 1, 0, 0};
  const IpAddress vip = kVip6;
  message.insert(message.end(), vip.data(), vip.data() + vip.size());
  message.resize(message.size() + kAuthDataSize, 0);
  reseal(message);
  EXPECT_EQ(decode_error(message, meta(kSource6, kGroup6)), DecodeError::BadVersion);
}

TEST(AdvertDecodeError, BadType) {
  for (int type = 0; type < 16; ++type) {
    if (type == kAdvertType) continue;
    Bytes message = kV3Pseudo;
    message[0] = static_cast<std::uint8_t>(0x30 | type);
    reseal_v3(message, kSource4, kGroup4);
    EXPECT_EQ(decode_error(message, meta(kSource4, kGroup4)), DecodeError::BadType) << type;
  }
}

TEST(AdvertDecodeError, CountZero) {
  Bytes v3 = {0x31, 51, 100, 0, 0x00, 100, 0, 0};  // exactly the size a count of 0 would need
  reseal_v3(v3, kSource4, kGroup4);
  EXPECT_EQ(decode_error(v3, meta(kSource4, kGroup4)), DecodeError::CountMismatch);
  Bytes v2 = {0x21, 51, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  reseal(v2);
  EXPECT_EQ(decode_error(v2, meta(kSource4, kGroup4)), DecodeError::CountMismatch);
}

TEST(AdvertDecodeError, CountDisagreesWithLength) {
  struct Case {
    Bytes valid;
    IpAddress source;
    IpAddress destination;
    bool v3;
  };
  const std::vector<Case> cases = {{kKeepalivedV2, kSource4, kGroup4, false},
                                   {kV3Pseudo, kSource4, kGroup4, true},
                                   {kV3Ipv6Group, kSource6, kGroup6, true}};
  for (const Case& c : cases) {
    const PacketMeta m = meta(c.source, c.destination);
    auto seal = [&c](Bytes& message) {
      if (c.v3) {
        reseal_v3(message, c.source, c.destination);
      } else {
        reseal(message);
      }
    };
    ASSERT_TRUE(decode_advert(c.valid, m).ok());
    // Off by one byte either way, and a whole address missing or extra, keeping the count.
    for (const int delta : {-1, +1, -4, +4, +16}) {
      Bytes message = c.valid;
      message.resize(message.size() + delta, 0);
      seal(message);
      EXPECT_EQ(decode_error(message, m), DecodeError::CountMismatch) << "delta " << delta;
    }
    // The count off by one either way, keeping the length.
    for (const int delta : {-1, +1}) {
      Bytes message = c.valid;
      message[3] = static_cast<std::uint8_t>(message[3] + delta);
      seal(message);
      EXPECT_EQ(decode_error(message, m), DecodeError::CountMismatch) << "count " << delta;
    }
  }
}

TEST(AdvertDecodeError, BadChecksumForEveryCorruptedByte) {
  // Bytes 0 and 3 (version/type, count) are caught earlier; every other byte is covered.
  for (const Bytes& valid : {kKeepalivedV2, kV3Pseudo, kV3MessageOnly, kV3Ipv6Group}) {
    const bool v6 = valid == kV3Ipv6Group;
    const PacketMeta m = meta(v6 ? kSource6 : kSource4, v6 ? kGroup6 : kGroup4);
    for (std::size_t position = 0; position < valid.size(); ++position) {
      if (position == 0 || position == 3) continue;
      for (const int flip : {0x01, 0x80, 0xFF}) {
        Bytes message = valid;
        message[position] = static_cast<std::uint8_t>(message[position] ^ flip);
        EXPECT_EQ(decode_error(message, m), DecodeError::BadChecksum)
            << "byte " << position << " ^ " << flip;
      }
    }
  }
}

TEST(AdvertDecodeError, ZeroInterval) {
  Bytes v2 = kKeepalivedV2;
  v2[5] = 0;
  reseal(v2);
  EXPECT_EQ(decode_error(v2, meta(kSource4, kGroup4)), DecodeError::ZeroInterval);
  Bytes v3 = kV3Pseudo;
  v3[4] = 0;
  v3[5] = 0;
  reseal_v3(v3, kSource4, kGroup4);
  EXPECT_EQ(decode_error(v3, meta(kSource4, kGroup4)), DecodeError::ZeroInterval);
  // Reserved bits set do not make the interval non-zero.
  v3[4] = 0xF0;
  reseal_v3(v3, kSource4, kGroup4);
  EXPECT_EQ(decode_error(v3, meta(kSource4, kGroup4)), DecodeError::ZeroInterval);
}

TEST(AdvertDecodeError, ConfiguredVersionMismatch) {
  EXPECT_EQ(decode_error(kV3Pseudo, meta(kSource4, kGroup4), v2_expectation()),
            DecodeError::BadVersion);
  Expectation v3 = v3_expectation(Family::V4);
  EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4), v3), DecodeError::BadVersion);
}

TEST(AdvertDecodeError, FamilyMismatch) {
  EXPECT_EQ(decode_error(kV3Ipv6Group, meta(kSource6, kGroup6), v3_expectation(Family::V4)),
            DecodeError::FamilyMismatch);
  EXPECT_EQ(decode_error(kV3Pseudo, meta(kSource4, kGroup4), v3_expectation(Family::V6)),
            DecodeError::FamilyMismatch);
}

TEST(AdvertDecodeError, AuthTypeMismatch) {
  const std::vector<IpAddress> vips = {kVip4};
  const Bytes no_auth = encode(v2_spec(vips), kSource4, kGroup4);
  EXPECT_EQ(decode_error(no_auth, meta(kSource4, kGroup4),
                         v2_expectation(AuthType::SimplePassword, "ipfailov")),
            DecodeError::AuthTypeMismatch);
  EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4), v2_expectation()),
            DecodeError::AuthTypeMismatch);
  // RFC 2338's IP Authentication Header type (2) decodes, and is refused by the instance.
  Bytes ah = kKeepalivedV2;
  ah[4] = 2;
  reseal(ah);
  EXPECT_TRUE(decode_advert(ah, meta(kSource4, kGroup4)).ok());
  EXPECT_EQ(decode_error(ah, meta(kSource4, kGroup4),
                         v2_expectation(AuthType::SimplePassword, "ipfailov")),
            DecodeError::AuthTypeMismatch);
}

TEST(AdvertDecodeError, AuthMismatch) {
  for (const char* wrong : {"ipfailox", "ipfail", "", "IPFAILOV"}) {
    EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4),
                           v2_expectation(AuthType::SimplePassword, wrong)),
              DecodeError::AuthMismatch)
        << wrong;
  }
  // keepalived compares only the first 8 characters.
  EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4),
                         v2_expectation(AuthType::SimplePassword, "ipfailover-long")),
            DecodeError{});
}

TEST(AdvertDecodeError, V2IntervalMismatch) {
  Expectation expectation = v2_expectation(AuthType::SimplePassword, "ipfailov");
  expectation.v2_interval_s = 2;
  EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4), expectation),
            DecodeError::IntervalMismatch);
  expectation.v2_interval_s = 0;  // unchecked
  EXPECT_EQ(decode_error(kKeepalivedV2, meta(kSource4, kGroup4), expectation), DecodeError{});
}

TEST(AdvertDecodeError, V3SkipsTheV2OnlyChecks) {
  // v3 has no authentication and learns the master's interval instead of requiring its own.
  Expectation expectation = v3_expectation(Family::V4);
  expectation.auth_type = AuthType::SimplePassword;
  expectation.auth_key = make_auth_key("ipfailov");
  expectation.v2_interval_s = 7;
  EXPECT_EQ(decode_error(kV3Pseudo, meta(kSource4, kGroup4), expectation), DecodeError{});
}

// One name table for the kernel's reject reasons: every reason has a text and a label, all
// distinct, and the numbers are the kernel's.
TEST(AdvertDecodeError, EveryReasonHasADistinctTextAndLabel) {
  std::set<std::string_view> texts;
  std::set<std::string_view> labels;
  for (const DecodeError reason : reject_reasons()) {
    EXPECT_NE(to_string(reason), "ok") << static_cast<int>(reason);
    EXPECT_NE(reason_label(reason), "ok") << static_cast<int>(reason);
    EXPECT_EQ(reason_label(reason).find(' '), std::string_view::npos) << reason_label(reason);
    texts.insert(to_string(reason));
    labels.insert(reason_label(reason));
  }
  EXPECT_EQ(reject_reasons().size() + 1, kRejectReasonSlots);
  EXPECT_EQ(texts.size(), reject_reasons().size());
  EXPECT_EQ(labels.size(), reject_reasons().size());
  EXPECT_EQ(static_cast<int>(DecodeError::BadTtl), VIPD_REASON_BAD_TTL);
  EXPECT_EQ(static_cast<int>(DecodeError::UnknownVrid), VIPD_REASON_UNKNOWN_VRID);
  EXPECT_EQ(reason_label(DecodeError::BadTtl), "bad_ttl");
  EXPECT_EQ(to_string(DecodeError::BadTtl), "bad TTL/hop limit");
  EXPECT_EQ(to_string(DecodeError{}), "ok");
}

// One table over the closed set: adding a reason the codec judges without a packet for it fails
// here. (UnknownVrid is the receive path's verdict on a valid advert, not the codec's.)
TEST(AdvertDecodeError, TheClosedSetIsCovered) {
  struct Case {
    Bytes message;
    PacketMeta meta;
    Expectation expectation;
    DecodeError expected;
  };
  const Expectation pass = v2_expectation(AuthType::SimplePassword, "ipfailov");
  Bytes bad_version = kKeepalivedV2;
  bad_version[0] = 0x41;
  reseal(bad_version);
  Bytes bad_type = kKeepalivedV2;
  bad_type[0] = 0x22;
  reseal(bad_type);
  Bytes bad_checksum = kKeepalivedV2;
  bad_checksum[7] ^= 1;
  Bytes zero_interval = kKeepalivedV2;
  zero_interval[5] = 0;
  reseal(zero_interval);
  Bytes count_mismatch = kKeepalivedV2;
  count_mismatch[3] = 2;
  reseal(count_mismatch);
  Bytes no_auth = kKeepalivedV2;
  no_auth[4] = 0;
  reseal(no_auth);
  Expectation wrong_password = pass;
  wrong_password.auth_key = make_auth_key("ipfailox");
  Expectation wrong_interval = pass;
  wrong_interval.v2_interval_s = 3;

  const PacketMeta v4 = meta(kSource4, kGroup4);
  const std::vector<Case> cases = {
      {Bytes(kKeepalivedV2.begin(), kKeepalivedV2.begin() + 7), v4, pass, DecodeError::Truncated},
      {bad_version, v4, pass, DecodeError::BadVersion},
      {bad_type, v4, pass, DecodeError::BadType},
      {bad_checksum, v4, pass, DecodeError::BadChecksum},
      {kKeepalivedV2, meta(kSource4, kGroup4, 64), pass, DecodeError::BadTtl},
      {zero_interval, v4, pass, DecodeError::ZeroInterval},
      {count_mismatch, v4, pass, DecodeError::CountMismatch},
      {no_auth, v4, pass, DecodeError::AuthTypeMismatch},
      {kKeepalivedV2, v4, wrong_password, DecodeError::AuthMismatch},
      {kKeepalivedV2, v4, wrong_interval, DecodeError::IntervalMismatch},
      {kV3Ipv6Group, meta(kSource6, kGroup6), v3_expectation(Family::V4),
       DecodeError::FamilyMismatch},
  };
  ASSERT_EQ(decode_error(kKeepalivedV2, v4, pass), DecodeError{}) << "the base packet is valid";
  std::set<DecodeError> covered;
  for (const Case& c : cases) {
    const DecodeError got = decode_error(c.message, c.meta, c.expectation);
    EXPECT_EQ(got, c.expected) << to_string(c.expected) << " got " << to_string(got);
    covered.insert(got);
  }
  // UnknownVrid (the instance lookup) and NotPeer (the source filter) are decided outside the
  // decoder.
  EXPECT_EQ(covered.size(), reject_reasons().size() - 2);
}

// ---------------------------------------------------------------------------------------------
// The documented order: for each adjacent pair of checks, a packet failing both reports the first.

TEST(AdvertCheckOrder, PacketLevel) {
  const PacketMeta v4 = meta(kSource4, kGroup4);
  const PacketMeta v4_ttl64 = meta(kSource4, kGroup4, 64);

  // 1 before 2: a short packet with a bad TTL is Truncated.
  EXPECT_EQ(decode_error(Bytes(kKeepalivedV2.begin(), kKeepalivedV2.begin() + 7), v4_ttl64),
            DecodeError::Truncated);
  // 2 before 3: bad TTL and version 4.
  Bytes version4 = kKeepalivedV2;
  version4[0] = 0x41;
  EXPECT_EQ(decode_error(version4, v4_ttl64), DecodeError::BadTtl);
  // 3 before 4: version 4 and type 2.
  Bytes version4_type2 = kKeepalivedV2;
  version4_type2[0] = 0x42;
  EXPECT_EQ(decode_error(version4_type2, v4), DecodeError::BadVersion);
  // 4 before 5: type 2 and a count of 0.
  Bytes type2_count0 = kKeepalivedV2;
  type2_count0[0] = 0x22;
  type2_count0[3] = 0;
  EXPECT_EQ(decode_error(type2_count0, v4), DecodeError::BadType);
  // 5 before 6: wrong count, stale checksum.
  Bytes count2 = kKeepalivedV2;
  count2[3] = 2;
  EXPECT_EQ(decode_error(count2, v4), DecodeError::CountMismatch);
  // 6 before 6b: zero interval, stale checksum.
  Bytes zero_interval = kKeepalivedV2;
  zero_interval[5] = 0;
  EXPECT_EQ(decode_error(zero_interval, v4), DecodeError::BadChecksum);
  // 6b before 7: zero interval (checksum fixed) and the wrong configured version.
  reseal(zero_interval);
  EXPECT_EQ(decode_error(zero_interval, v4, v3_expectation(Family::V4)), DecodeError::ZeroInterval);
}

TEST(AdvertCheckOrder, InstanceLevel) {
  const PacketMeta v4 = meta(kSource4, kGroup4);
  // 7 before 8: a v3 IPv6 advert at a v2 IPv4 instance.
  EXPECT_EQ(decode_error(kV3Ipv6Group, meta(kSource6, kGroup6), v2_expectation()),
            DecodeError::BadVersion);
  // 8 before 9: family and auth type both differ.
  Expectation v6_pass = v2_expectation(AuthType::None);
  v6_pass.family = Family::V6;
  EXPECT_EQ(decode_error(kKeepalivedV2, v4, v6_pass), DecodeError::FamilyMismatch);
  // 9 before 10: auth type differs, so the (absent) password is not compared.
  Expectation none = v2_expectation(AuthType::None, "whatever");
  none.v2_interval_s = 9;
  EXPECT_EQ(decode_error(kKeepalivedV2, v4, none), DecodeError::AuthTypeMismatch);
  // 10 before 11: wrong password and wrong interval.
  Expectation wrong = v2_expectation(AuthType::SimplePassword, "nope");
  wrong.v2_interval_s = 9;
  EXPECT_EQ(decode_error(kKeepalivedV2, v4, wrong), DecodeError::AuthMismatch);
}

TEST(AdvertCheckOrder, PacketErrorsWinOverInstanceErrors) {
  Bytes corrupted = kV3Pseudo;
  corrupted[2] ^= 1;
  EXPECT_EQ(decode_error(corrupted, meta(kSource4, kGroup4), v2_expectation()),
            DecodeError::BadChecksum);
}

TEST(AdvertCheckOrder, CheckAdvertAloneMatchesTheCombinedDecode) {
  const DecodeResult packet = decode_advert(kKeepalivedV2, meta(kSource4, kGroup4));
  ASSERT_TRUE(packet.ok());
  Expectation wrong = v2_expectation(AuthType::SimplePassword, "nope");
  EXPECT_EQ(check_advert(packet.advert(), wrong), DecodeError::AuthMismatch);
  EXPECT_EQ(check_advert(packet.advert(), v2_expectation(AuthType::SimplePassword, "ipfailov")),
            DecodeError{});
}

// ---------------------------------------------------------------------------------------------
// Specs the encoder refuses

class AdvertEncodeRejects : public ::testing::Test {
 protected:
  // Returns the encoded size, checking that a refusal leaves the buffer untouched.
  std::size_t encode_into(const AdvertSpec& spec, const IpAddress& source,
                          const IpAddress& destination, std::size_t buffer_size) {
    Bytes buffer(buffer_size, 0xAA);
    const std::size_t size = encode_advert(spec, source, destination, buffer);
    if (size == 0) {
      EXPECT_EQ(buffer, Bytes(buffer_size, 0xAA)) << "refusal wrote to the buffer";
    }
    return size;
  }
  std::size_t encode4(const AdvertSpec& spec) {
    return encode_into(spec, kSource4, kGroup4, kMaxAdvertSize);
  }

  std::vector<IpAddress> one4 = {kVip4};
  std::vector<IpAddress> one6 = {kVip6};
};

TEST_F(AdvertEncodeRejects, V2WithIpv6) {
  const AdvertSpec spec = v2_spec(one6);
  EXPECT_EQ(encoded_size(spec), 0u);
  EXPECT_EQ(encode_into(spec, kSource6, kGroup6, kMaxAdvertSize), 0u);
}

TEST_F(AdvertEncodeRejects, V2IntervalNotWholeSeconds) {
  for (const int interval : {1, 50, 150, 199}) {
    AdvertSpec spec = v2_spec(one4);
    spec.interval_cs = static_cast<std::uint16_t>(interval);
    EXPECT_EQ(encoded_size(spec), 0u) << interval;
    EXPECT_EQ(encode4(spec), 0u) << interval;
  }
}

TEST_F(AdvertEncodeRejects, IntervalOutOfRange) {
  AdvertSpec v2 = v2_spec(one4);
  for (const int interval : {0, 25600}) {
    v2.interval_cs = static_cast<std::uint16_t>(interval);
    EXPECT_EQ(encode4(v2), 0u) << interval;
  }
  v2.interval_cs = 25500;
  EXPECT_EQ(encode4(v2), 20u);

  AdvertSpec v3 = v3_spec(one4);
  for (const int interval : {0, 4096, 65535}) {
    v3.interval_cs = static_cast<std::uint16_t>(interval);
    EXPECT_EQ(encoded_size(v3), 0u) << interval;
    EXPECT_EQ(encode4(v3), 0u) << interval;
  }
  v3.interval_cs = 4095;
  EXPECT_EQ(encode4(v3), 12u);
}

TEST_F(AdvertEncodeRejects, AddressCountOutOfRange) {
  const std::vector<IpAddress> none;
  EXPECT_EQ(encode4(v3_spec(none)), 0u);
  EXPECT_EQ(encode4(v2_spec(none)), 0u);
  const std::vector<IpAddress> too_many(256, kVip4);
  EXPECT_EQ(encoded_size(v2_spec(too_many)), 0u);
  EXPECT_EQ(encode4(v2_spec(too_many)), 0u);
  EXPECT_EQ(encode4(v3_spec(too_many)), 0u);
  const std::vector<IpAddress> most(255, kVip4);
  EXPECT_EQ(encode4(v3_spec(most)), 8u + 255 * 4);
}

TEST_F(AdvertEncodeRejects, MixedFamilies) {
  const std::vector<IpAddress> mixed = {kVip4, kVip6};
  EXPECT_EQ(encoded_size(v3_spec(mixed)), 0u);
  EXPECT_EQ(encode4(v3_spec(mixed)), 0u);
  // Addresses, source and destination must all agree.
  EXPECT_EQ(encode_into(v3_spec(one6), kSource4, kGroup4, kMaxAdvertSize), 0u);
  EXPECT_EQ(encode_into(v3_spec(one4), kSource4, kGroup6, kMaxAdvertSize), 0u);
  EXPECT_EQ(encode_into(v3_spec(one4), kSource6, kGroup4, kMaxAdvertSize), 0u);
}

TEST_F(AdvertEncodeRejects, BufferTooSmall) {
  EXPECT_EQ(encode_into(v2_spec(one4), kSource4, kGroup4, 19), 0u);
  EXPECT_EQ(encode_into(v2_spec(one4), kSource4, kGroup4, 20), 20u);
  EXPECT_EQ(encode_into(v3_spec(one6), kSource6, kGroup6, 23), 0u);
  EXPECT_EQ(encode_into(v3_spec(one6), kSource6, kGroup6, 24), 24u);
  EXPECT_EQ(encode_into(v3_spec(one4), kSource4, kGroup4, 0), 0u);
}

TEST(AdvertEncodedSize, IsTheWireSize) {
  const std::vector<IpAddress> one4 = {kVip4};
  const std::vector<IpAddress> one6 = {kVip6};
  const std::vector<IpAddress> twenty4(20, kVip4);
  EXPECT_EQ(encoded_size(v2_spec(one4)), 20u);
  EXPECT_EQ(encoded_size(v2_spec(twenty4)), 8u + 20 * 4 + 8);
  EXPECT_EQ(encoded_size(v3_spec(one4)), 12u);
  EXPECT_EQ(encoded_size(v3_spec(one6)), 24u);
}

TEST(AdvertEncode, IgnoresThePasswordWithoutSimplePasswordAuth) {
  const std::vector<IpAddress> vips = {kVip4};
  AdvertSpec spec = v2_spec(vips);
  spec.auth_key = make_auth_key("leaked!!");
  const Bytes message = encode(spec, kSource4, kGroup4);
  EXPECT_EQ(Bytes(message.end() - 8, message.end()), Bytes(8, 0));
  spec.version = VrrpVersion::V3;
  EXPECT_EQ(encode(spec, kSource4, kGroup4).size(), 12u) << "v3 carries no auth data";
}

// ---------------------------------------------------------------------------------------------

TEST(MakeAuthKey, TruncatesToEightBytes) {
  const AuthKey key = make_auth_key("ipfailover");
  EXPECT_EQ(Bytes(key.begin(), key.end()), (Bytes{'i', 'p', 'f', 'a', 'i', 'l', 'o', 'v'}));
  EXPECT_EQ(make_auth_key("ipfailover"), make_auth_key("ipfailov"));
}

TEST(MakeAuthKey, ZeroPadsShortPasswords) {
  const AuthKey key = make_auth_key("abc");
  EXPECT_EQ(Bytes(key.begin(), key.end()), (Bytes{'a', 'b', 'c', 0, 0, 0, 0, 0}));
  EXPECT_EQ(make_auth_key(""), AuthKey{});
  EXPECT_NE(make_auth_key("abc"), make_auth_key("abd"));
}

}  // namespace
}  // namespace vipd::core
