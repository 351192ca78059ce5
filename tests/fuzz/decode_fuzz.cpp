// libFuzzer target for the VRRP decoder. The input chooses the packet metadata and the instance's
// expectation (fuzz_input.h), then the message. Besides "no crash, no UB" it asserts:
//
//  1. The early checks keep their documented order: < 8 bytes is Truncated whatever else is wrong;
//     a bad TTL (not exempt) on 8+ bytes is BadTtl.
//  2. The combined decode equals packet-level decode followed by check_advert.
//  3. A decoded advert is self-consistent: count >= 1, the address view lies inside the message
//     right after the header, the length is exact, the interval is non-zero and in range, v2 only
//     over IPv4, and the checksum form fits the version and family.
//  4. Re-encoding the advert (same version, vrid, priority, interval, addresses, auth) with the
//  same
//     source, destination and checksum form succeeds, has the input's length, and reproduces the
//     input byte for byte, except where the receiver is told to ignore what it got:
//       - v3: the 4 reserved bits of byte 4 (MUST be zero on send, ignored on receipt);
//       - v2 without simple-password auth: the 8 auth data bytes (RFC 3768: zero on send,
//         ignored on receipt);
//       - the checksum, when one of the above differed (it covers those bytes);
//       - a checksum of 0xFFFF where the encoder writes 0x0000: both are one's-complement zero, so
//         a message whose other words sum to 0xFFFF verifies with either (RFC 1624).
//     When an ignored field differed, the re-encoded message must itself decode to the same
//     fields and checksum form.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "fuzz_input.h"
#include "vipd/core/advert.h"

namespace {

using namespace vipd::core;

constexpr std::size_t kChecksumOffset = 6;
constexpr std::size_t kReservedOffset = 4;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

void require(bool condition, const char* what) {
  if (!condition) fail(what);
}

void check_early_order(const vipd::fuzz::FuzzInput& input, const DecodeResult& result) {
  if (input.message.size() < kVrrpHeaderSize) {
    require(result.error() == DecodeError::Truncated, "short message is not Truncated");
    return;
  }
  if (!input.meta.ttl_exempt && input.meta.ttl != kVrrpTtl) {
    require(result.error() == DecodeError::BadTtl, "bad TTL is not BadTtl");
  }
}

void check_invariants(const vipd::fuzz::FuzzInput& input, const Advert& advert) {
  const std::span<const std::uint8_t> message = input.message;
  const bool v2 = advert.version == VrrpVersion::V2;
  require(advert.count >= 1, "count 0 accepted");
  require(advert.family == input.meta.source.family(), "family is not the source's");
  require(!v2 || advert.family == Family::V4, "v2 over IPv6 accepted");
  require(advert.address_bytes.size() == advert.count * address_size(advert.family),
          "address view has the wrong size");
  require(advert.address_bytes.data() == message.data() + kVrrpHeaderSize,
          "address view does not follow the header");
  require(
      message.size() == kVrrpHeaderSize + advert.address_bytes.size() + (v2 ? kAuthDataSize : 0),
      "length is not exact");
  require(advert.interval_cs != 0, "zero interval accepted");
  require(v2 ? advert.interval_cs % 100 == 0 : advert.interval_cs <= kMaxIntervalCs,
          "interval out of range");
  require(v2 == (advert.checksum_form == ChecksumForm::V2Message), "checksum form vs version");
  require(advert.checksum_form != ChecksumForm::V3MessageOnly || advert.family == Family::V4,
          "message-only checksum accepted over IPv6");
  require(v2 || advert.auth_type == AuthType::None, "v3 advert carries auth");
}

bool same_fields(const Advert& a, const Advert& b) {
  return a.version == b.version && a.vrid == b.vrid && a.priority == b.priority &&
         a.count == b.count && a.interval_cs == b.interval_cs && a.auth_type == b.auth_type &&
         a.family == b.family && a.checksum_form == b.checksum_form &&
         std::equal(a.address_bytes.begin(), a.address_bytes.end(), b.address_bytes.begin(),
                    b.address_bytes.end()) &&
         (a.auth_type != AuthType::SimplePassword || a.auth_data == b.auth_data);
}

void check_reencoding(const vipd::fuzz::FuzzInput& input, const Advert& advert) {
  const std::span<const std::uint8_t> message = input.message;
  std::vector<IpAddress> addresses;
  for (std::size_t i = 0; i < advert.count; ++i) addresses.push_back(advert.address(i));
  AdvertSpec spec;
  spec.version = advert.version;
  spec.vrid = advert.vrid;
  spec.priority = advert.priority;
  spec.interval_cs = advert.interval_cs;
  spec.auth_type = advert.auth_type;
  spec.auth_key = advert.auth_data;
  spec.addresses = addresses;
  const V3Checksum form = advert.checksum_form == ChecksumForm::V3MessageOnly
                              ? V3Checksum::MessageOnly
                              : V3Checksum::PseudoHeader;

  std::vector<std::uint8_t> out(kMaxAdvertSize);
  const std::size_t size =
      encode_advert(spec, input.meta.source, input.meta.destination, out, form);
  require(size == message.size(), "re-encoding failed or changed the length");
  out.resize(size);

  // The input with the fields a receiver ignores set as a sender must set them.
  std::vector<std::uint8_t> normalized(message.begin(), message.end());
  if (advert.version == VrrpVersion::V3) {
    normalized[kReservedOffset] &= 0x0F;
  } else if (advert.auth_type != AuthType::SimplePassword) {
    std::fill(normalized.end() - kAuthDataSize, normalized.end(), 0);
  }
  const bool ignored_field_differed =
      !std::equal(normalized.begin(), normalized.end(), message.begin());

  for (std::size_t i = 0; i < size; ++i) {
    if (i == kChecksumOffset || i == kChecksumOffset + 1) continue;
    require(out[i] == normalized[i], "re-encoding differs outside the checksum");
  }
  const std::uint16_t in_checksum =
      static_cast<std::uint16_t>(message[kChecksumOffset] << 8 | message[kChecksumOffset + 1]);
  const std::uint16_t out_checksum =
      static_cast<std::uint16_t>(out[kChecksumOffset] << 8 | out[kChecksumOffset + 1]);
  if (!ignored_field_differed) {
    require(out_checksum == in_checksum || (in_checksum == 0xFFFF && out_checksum == 0x0000),
            "re-encoding changed the checksum");
    return;
  }
  const DecodeResult again = decode_advert(out, input.meta);
  require(again.ok(), "re-encoded message does not decode");
  require(same_fields(again.advert(), advert), "re-encoded message decodes differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::optional<vipd::fuzz::FuzzInput> input = vipd::fuzz::parse_fuzz_input({data, size});
  if (!input) return 0;

  const DecodeResult packet = decode_advert(input->message, input->meta);
  const DecodeResult full = decode_advert(input->message, input->meta, input->expectation);
  check_early_order(*input, packet);
  if (!packet) {
    require(full.error() == packet.error(), "combined decode disagrees on a packet error");
    return 0;
  }
  require(full.error() == check_advert(packet.advert(), input->expectation),
          "combined decode disagrees with check_advert");
  check_invariants(*input, packet.advert());
  check_reencoding(*input, packet.advert());
  return 0;
}
