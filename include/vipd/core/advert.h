// VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798 / RFC 9568), IPv4 and IPv6.
//
// Decoding never throws and never allocates: the decoded Advert is a view whose address list points
// into the buffer given to decode_advert(). The XDP program applies the same checks in the same
// order (the differential test in tests/bpf keeps the two honest):
//
//   packet level (decode_advert)               instance level (check_advert)
//   1. < 8 bytes             -> Truncated      7. version != configured  -> BadVersion
//   2. TTL/hop limit != 255  -> BadTtl         8. family != configured   -> FamilyMismatch
//   3. version not 2 or 3,                     9. v2 auth type differs   -> AuthTypeMismatch
//      or v2 over IPv6       -> BadVersion    10. v2 password differs    -> AuthMismatch
//   4. type != 1             -> BadType       11. v2 interval differs    -> IntervalMismatch
//   5. count 0, or length != exact size for count -> CountMismatch
//   6. checksum              -> BadChecksum
//   6b. interval 0           -> ZeroInterval
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "vipd/bpf_abi.h"
#include "vipd/core/ip_address.h"

namespace vipd::core {

inline constexpr std::uint8_t kIpProtoVrrp = 112;
inline constexpr std::uint8_t kVrrpTtl = 255;
inline constexpr std::size_t kVrrpHeaderSize = 8;
inline constexpr std::size_t kAuthDataSize = 8;
inline constexpr std::uint8_t kAdvertType = 1;
inline constexpr std::uint16_t kMaxIntervalCs = 4095;  // v3: 12 bits of centiseconds
inline constexpr std::uint16_t kMaxV2IntervalS = 255;  // v2: 8 bits of seconds
inline constexpr std::size_t kMaxAdvertSize = kVrrpHeaderSize + 255 * 16 + kAuthDataSize;

enum class VrrpVersion : std::uint8_t { V2 = 2, V3 = 3 };
enum class AuthType : std::uint8_t { None = 0, SimplePassword = 1 };
using AuthKey = std::array<std::uint8_t, kAuthDataSize>;

// keepalived's PASS: the first 8 bytes of the password, zero padded.
AuthKey make_auth_key(std::string_view password);

enum class ChecksumForm : std::uint8_t {
  V2Message,       // v2: over the VRRP message
  V3PseudoHeader,  // v3: with the IPv4/IPv6 pseudo-header (RFC 5798, keepalived's default)
  V3MessageOnly,   // v3 IPv4: over the message only (RFC 9568)
};

// Why an advert was rejected: the kernel's reject reasons (enum vipd_reason in vipd/bpf_abi.h),
// one vocabulary for the XDP program, the raw-socket path, status, logs and metrics. The codec
// returns the ones it can judge; UnknownVrid and NotPeer are the receive path's verdicts on a valid
// advert (a VRID this node does not run; a source it does not accept).
enum class DecodeError : std::uint8_t {
  Truncated = VIPD_REASON_TRUNCATED,
  BadVersion = VIPD_REASON_BAD_VERSION,
  BadType = VIPD_REASON_BAD_TYPE,
  BadChecksum = VIPD_REASON_BAD_CHECKSUM,
  BadTtl = VIPD_REASON_BAD_TTL,
  ZeroInterval = VIPD_REASON_ZERO_INTERVAL,
  CountMismatch = VIPD_REASON_COUNT_MISMATCH,
  AuthTypeMismatch = VIPD_REASON_AUTH_TYPE_MISMATCH,
  AuthMismatch = VIPD_REASON_AUTH_MISMATCH,
  IntervalMismatch = VIPD_REASON_INTERVAL_MISMATCH,
  FamilyMismatch = VIPD_REASON_FAMILY_MISMATCH,
  UnknownVrid = VIPD_REASON_UNKNOWN_VRID,
  NotPeer = VIPD_REASON_NOT_PEER,
};
// Counters indexed by reason have this many slots (slot 0, "ok", stays unused).
inline constexpr std::size_t kRejectReasonSlots = VIPD_REASON_COUNT;
// The one name table: human text for logs and status ("bad TTL/hop limit")...
std::string_view to_string(DecodeError error);
// ...and the metric label / JSON key ("bad_ttl").
std::string_view reason_label(DecodeError error);
// Every reason, in number order.
std::span<const DecodeError> reject_reasons();

// What the IP layer told us about the packet carrying the advert.
struct PacketMeta {
  IpAddress source;
  IpAddress destination;        // the real destination: group or unicast peer (pseudo-header)
  std::uint8_t ttl = kVrrpTtl;  // IPv4 TTL or IPv6 hop limit
  bool ttl_exempt = false;      // source is a configured unicast peer: TTL is not checked
};

struct Advert {
  VrrpVersion version = VrrpVersion::V3;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 0;
  std::uint8_t count = 0;
  std::uint16_t interval_cs = 0;        // v2 seconds are converted: 1 s -> 100
  AuthType auth_type = AuthType::None;  // v3: always None
  AuthKey auth_data{};                  // v2 only
  Family family = Family::V4;
  ChecksumForm checksum_form = ChecksumForm::V2Message;
  std::span<const std::uint8_t> address_bytes;  // count * 4 or count * 16 bytes, into the packet

  IpAddress address(std::size_t index) const {
    return IpAddress::from_bytes(family, address_bytes.data() + index * address_size(family));
  }
};

// What the receiving instance is configured for.
struct Expectation {
  VrrpVersion version = VrrpVersion::V2;
  Family family = Family::V4;
  AuthType auth_type = AuthType::None;
  AuthKey auth_key{};
  std::uint16_t v2_interval_s = 0;  // v2: adverts with another interval are discarded; 0: unchecked
};

class DecodeResult {
 public:
  static DecodeResult success(const Advert& advert) { return DecodeResult(advert); }
  static DecodeResult failure(DecodeError error) { return DecodeResult(error); }

  bool ok() const { return error_ == DecodeError{}; }
  explicit operator bool() const { return ok(); }
  DecodeError error() const { return error_; }
  const Advert& advert() const { return advert_; }

 private:
  explicit DecodeResult(const Advert& advert) : advert_(advert) {}
  explicit DecodeResult(DecodeError error) : error_(error) {}
  Advert advert_{};
  DecodeError error_{};
};

// Packet-level checks 1-6b on the VRRP message (the IP payload, exactly its length).
DecodeResult decode_advert(std::span<const std::uint8_t> message, const PacketMeta& meta);
// Instance-level checks 7-11; returns DecodeError{} (zero) when the advert is acceptable.
DecodeError check_advert(const Advert& advert, const Expectation& expectation);
// Both, in order.
DecodeResult decode_advert(std::span<const std::uint8_t> message, const PacketMeta& meta,
                           const Expectation& expectation);

struct AdvertSpec {
  VrrpVersion version = VrrpVersion::V2;
  std::uint8_t vrid = 0;
  std::uint8_t priority = 0;
  std::uint16_t interval_cs = 100;  // v2: must be a whole number of seconds
  AuthType auth_type = AuthType::None;
  AuthKey auth_key{};
  std::span<const IpAddress> addresses;  // 1..255, all of the family of `source`
};

enum class V3Checksum : std::uint8_t { PseudoHeader, MessageOnly };

// Size of the encoded message; 0 if the spec cannot be encoded.
std::size_t encoded_size(const AdvertSpec& spec);
// Writes the VRRP message; returns its size, or 0 if the spec is invalid or `out` too small.
// `destination` is the real IP destination (group or unicast peer), used by the pseudo-header.
std::size_t encode_advert(const AdvertSpec& spec, const IpAddress& source,
                          const IpAddress& destination, std::span<std::uint8_t> out,
                          V3Checksum v3_checksum = V3Checksum::PseudoHeader);

}  // namespace vipd::core
