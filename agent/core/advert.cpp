#include "vipd/core/advert.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "vipd/core/checksum.h"

namespace vipd::core {
namespace {

constexpr std::size_t kChecksumOffset = 6;

bool checksum_ok(std::uint32_t initial, std::span<const std::uint8_t> message) {
  return checksum_finish(checksum_add(initial, message)) == 0;
}

std::size_t expected_size(VrrpVersion version, Family family, std::size_t count) {
  const std::size_t auth = version == VrrpVersion::V2 ? kAuthDataSize : 0;
  return kVrrpHeaderSize + count * address_size(family) + auth;
}

// Checks 5, 6 and 6b once the header is known to be a v2/v3 advertisement.
DecodeError check_body(std::span<const std::uint8_t> message, const PacketMeta& meta,
                       Advert& advert) {
  if (advert.count == 0 ||
      message.size() != expected_size(advert.version, advert.family, advert.count)) {
    return DecodeError::CountMismatch;
  }
  if (advert.version == VrrpVersion::V2) {
    if (!checksum_ok(0, message)) return DecodeError::BadChecksum;
    advert.checksum_form = ChecksumForm::V2Message;
  } else if (checksum_ok(pseudo_header_sum(meta.source, meta.destination,
                                           static_cast<std::uint32_t>(message.size())),
                         message)) {
    advert.checksum_form = ChecksumForm::V3PseudoHeader;
  } else if (advert.family == Family::V4 && checksum_ok(0, message)) {
    advert.checksum_form = ChecksumForm::V3MessageOnly;
  } else {
    return DecodeError::BadChecksum;
  }
  return advert.interval_cs == 0 ? DecodeError::ZeroInterval : DecodeError{};
}

}  // namespace

AuthKey make_auth_key(std::string_view password) {
  AuthKey key{};
  std::copy_n(password.begin(), std::min(password.size(), key.size()), key.begin());
  return key;
}

namespace {

struct ReasonName {
  DecodeError reason;
  std::string_view label;
  std::string_view text;
};
constexpr std::array<ReasonName, kRejectReasonSlots - 1> kReasonNames = {{
    {DecodeError::Truncated, "truncated", "truncated"},
    {DecodeError::BadVersion, "bad_version", "bad version"},
    {DecodeError::BadType, "bad_type", "bad type"},
    {DecodeError::BadChecksum, "bad_checksum", "bad checksum"},
    {DecodeError::BadTtl, "bad_ttl", "bad TTL/hop limit"},
    {DecodeError::ZeroInterval, "zero_interval", "zero interval"},
    {DecodeError::CountMismatch, "count_mismatch", "address count mismatch"},
    {DecodeError::AuthTypeMismatch, "auth_type_mismatch", "auth type mismatch"},
    {DecodeError::AuthMismatch, "auth_mismatch", "auth mismatch"},
    {DecodeError::IntervalMismatch, "interval_mismatch", "interval mismatch"},
    {DecodeError::FamilyMismatch, "family_mismatch", "address family mismatch"},
    {DecodeError::UnknownVrid, "unknown_vrid", "unknown VRID"},
    {DecodeError::NotPeer, "not_peer", "source not a peer"},
}};
constexpr bool names_in_number_order() {
  for (std::size_t i = 0; i < kReasonNames.size(); ++i) {
    if (static_cast<std::size_t>(kReasonNames[i].reason) != i + 1) return false;
  }
  return true;
}
static_assert(names_in_number_order(), "one entry per vipd_reason, in number order");

constexpr std::array<DecodeError, kReasonNames.size()> kReasons = [] {
  std::array<DecodeError, kReasonNames.size()> reasons{};
  for (std::size_t i = 0; i < reasons.size(); ++i) reasons[i] = kReasonNames[i].reason;
  return reasons;
}();

const ReasonName* find_reason(DecodeError error) {
  const auto index = static_cast<std::size_t>(error);
  if (index == 0 || index > kReasonNames.size()) return nullptr;
  return &kReasonNames[index - 1];
}

}  // namespace

std::string_view to_string(DecodeError error) {
  const ReasonName* name = find_reason(error);
  return name ? name->text : "ok";
}

std::string_view reason_label(DecodeError error) {
  const ReasonName* name = find_reason(error);
  return name ? name->label : "ok";
}

std::span<const DecodeError> reject_reasons() {
  return kReasons;
}

DecodeResult decode_advert(std::span<const std::uint8_t> message, const PacketMeta& meta) {
  if (message.size() < kVrrpHeaderSize) return DecodeResult::failure(DecodeError::Truncated);
  if (!meta.ttl_exempt && meta.ttl != kVrrpTtl) return DecodeResult::failure(DecodeError::BadTtl);

  Advert advert;
  advert.family = meta.source.family();
  const std::uint8_t version = message[0] >> 4;
  if (version == 2 && advert.family == Family::V4) {
    advert.version = VrrpVersion::V2;
  } else if (version == 3) {
    advert.version = VrrpVersion::V3;
  } else {
    return DecodeResult::failure(DecodeError::BadVersion);
  }
  if ((message[0] & 0x0F) != kAdvertType) return DecodeResult::failure(DecodeError::BadType);

  advert.vrid = message[1];
  advert.priority = message[2];
  advert.count = message[3];
  if (advert.version == VrrpVersion::V2) {
    advert.auth_type = static_cast<AuthType>(message[4]);
    advert.interval_cs = static_cast<std::uint16_t>(message[5] * 100);
  } else {
    advert.interval_cs = static_cast<std::uint16_t>((message[4] & 0x0F) << 8 | message[5]);
  }
  if (const DecodeError error = check_body(message, meta, advert); error != DecodeError{}) {
    return DecodeResult::failure(error);
  }
  const std::size_t address_bytes = advert.count * address_size(advert.family);
  advert.address_bytes = message.subspan(kVrrpHeaderSize, address_bytes);
  if (advert.version == VrrpVersion::V2) {
    std::memcpy(advert.auth_data.data(), message.data() + kVrrpHeaderSize + address_bytes,
                kAuthDataSize);
  }
  return DecodeResult::success(advert);
}

DecodeError check_advert(const Advert& advert, const Expectation& expectation) {
  if (advert.version != expectation.version) return DecodeError::BadVersion;
  if (advert.family != expectation.family) return DecodeError::FamilyMismatch;
  if (advert.version != VrrpVersion::V2) return DecodeError{};
  if (advert.auth_type != expectation.auth_type) return DecodeError::AuthTypeMismatch;
  if (advert.auth_type == AuthType::SimplePassword && advert.auth_data != expectation.auth_key) {
    return DecodeError::AuthMismatch;
  }
  if (expectation.v2_interval_s != 0 && advert.interval_cs != expectation.v2_interval_s * 100) {
    return DecodeError::IntervalMismatch;
  }
  return DecodeError{};
}

DecodeResult decode_advert(std::span<const std::uint8_t> message, const PacketMeta& meta,
                           const Expectation& expectation) {
  DecodeResult result = decode_advert(message, meta);
  if (!result) return result;
  if (const DecodeError error = check_advert(result.advert(), expectation);
      error != DecodeError{}) {
    return DecodeResult::failure(error);
  }
  return result;
}

std::size_t encoded_size(const AdvertSpec& spec) {
  if (spec.addresses.empty() || spec.addresses.size() > 255) return 0;
  const Family family = spec.addresses.front().family();
  for (const IpAddress& address : spec.addresses) {
    if (address.family() != family) return 0;
  }
  if (spec.version == VrrpVersion::V2) {
    if (family != Family::V4) return 0;
    if (spec.interval_cs % 100 != 0 || spec.interval_cs == 0 ||
        spec.interval_cs / 100 > kMaxV2IntervalS) {
      return 0;
    }
  } else if (spec.interval_cs == 0 || spec.interval_cs > kMaxIntervalCs) {
    return 0;
  }
  return expected_size(spec.version, family, spec.addresses.size());
}

std::size_t encode_advert(const AdvertSpec& spec, const IpAddress& source,
                          const IpAddress& destination, std::span<std::uint8_t> out,
                          V3Checksum v3_checksum) {
  const std::size_t size = encoded_size(spec);
  if (size == 0 || size > out.size()) return 0;
  if (source.family() != spec.addresses.front().family() ||
      destination.family() != source.family()) {
    return 0;
  }
  const bool v2 = spec.version == VrrpVersion::V2;
  out[0] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(spec.version) << 4 | kAdvertType);
  out[1] = spec.vrid;
  out[2] = spec.priority;
  out[3] = static_cast<std::uint8_t>(spec.addresses.size());
  if (v2) {
    out[4] = static_cast<std::uint8_t>(spec.auth_type);
    out[5] = static_cast<std::uint8_t>(spec.interval_cs / 100);
  } else {
    out[4] = static_cast<std::uint8_t>(spec.interval_cs >> 8 & 0x0F);
    out[5] = static_cast<std::uint8_t>(spec.interval_cs & 0xFF);
  }
  out[kChecksumOffset] = 0;
  out[kChecksumOffset + 1] = 0;
  std::size_t offset = kVrrpHeaderSize;
  for (const IpAddress& address : spec.addresses) {
    std::memcpy(out.data() + offset, address.data(), address.size());
    offset += address.size();
  }
  if (v2) {
    const AuthKey zero{};
    const AuthKey& auth = spec.auth_type == AuthType::SimplePassword ? spec.auth_key : zero;
    std::memcpy(out.data() + offset, auth.data(), kAuthDataSize);
  }
  const std::span<const std::uint8_t> message = out.first(size);
  const bool pseudo =
      !v2 && (source.family() == Family::V6 || v3_checksum == V3Checksum::PseudoHeader);
  const std::uint32_t initial =
      pseudo ? pseudo_header_sum(source, destination, static_cast<std::uint32_t>(size)) : 0;
  const std::uint16_t checksum = checksum_finish(checksum_add(initial, message));
  out[kChecksumOffset] = static_cast<std::uint8_t>(checksum >> 8);
  out[kChecksumOffset + 1] = static_cast<std::uint8_t>(checksum & 0xFF);
  return size;
}

}  // namespace vipd::core
