// Layout of one fuzz input, shared by the fuzz target and the seed-corpus generator so the seeds
// always match what the target parses:
//
//   byte 0        flags (see below)
//   byte 1        TTL / hop limit
//   byte 2        Expectation::v2_interval_s
//   bytes 3..10   Expectation::auth_key
//   then          source address (4 or 16 bytes, by the family flag)
//   then          destination address (same family: the IP layer never mixes them)
//   rest          the VRRP message, exactly the IP payload
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"

namespace vipd::fuzz {

inline constexpr std::uint8_t kFlagIpv6 = 1 << 0;
inline constexpr std::uint8_t kFlagTtlExempt = 1 << 1;
inline constexpr std::uint8_t kFlagExpectV3 = 1 << 2;
inline constexpr std::uint8_t kFlagExpectIpv6 = 1 << 3;
inline constexpr std::uint8_t kFlagExpectPassword = 1 << 4;
inline constexpr std::size_t kFixedPrefixSize = 3 + core::kAuthDataSize;

struct FuzzInput {
  core::PacketMeta meta;
  core::Expectation expectation;
  std::span<const std::uint8_t> message;
};

inline std::optional<FuzzInput> parse_fuzz_input(std::span<const std::uint8_t> data) {
  if (data.size() < kFixedPrefixSize) return std::nullopt;
  const std::uint8_t flags = data[0];
  const core::Family family = flags & kFlagIpv6 ? core::Family::V6 : core::Family::V4;
  const std::size_t address_size = core::address_size(family);
  if (data.size() < kFixedPrefixSize + 2 * address_size) return std::nullopt;

  FuzzInput input;
  input.meta.ttl = data[1];
  input.meta.ttl_exempt = (flags & kFlagTtlExempt) != 0;
  input.meta.source = core::IpAddress::from_bytes(family, data.data() + kFixedPrefixSize);
  input.meta.destination =
      core::IpAddress::from_bytes(family, data.data() + kFixedPrefixSize + address_size);
  input.expectation.version = flags & kFlagExpectV3 ? core::VrrpVersion::V3 : core::VrrpVersion::V2;
  input.expectation.family = flags & kFlagExpectIpv6 ? core::Family::V6 : core::Family::V4;
  input.expectation.auth_type =
      flags & kFlagExpectPassword ? core::AuthType::SimplePassword : core::AuthType::None;
  input.expectation.v2_interval_s = data[2];
  for (std::size_t i = 0; i < core::kAuthDataSize; ++i) input.expectation.auth_key[i] = data[3 + i];
  input.message = data.subspan(kFixedPrefixSize + 2 * address_size);
  return input;
}

inline std::vector<std::uint8_t> make_fuzz_input(std::uint8_t flags, std::uint8_t ttl,
                                                 const core::Expectation& expectation,
                                                 const core::IpAddress& source,
                                                 const core::IpAddress& destination,
                                                 std::span<const std::uint8_t> message) {
  // Appended byte by byte: GCC 12 reports a false -Warray-bounds on vector::insert here.
  std::vector<std::uint8_t> out;
  out.reserve(kFixedPrefixSize + source.size() + destination.size() + message.size());
  auto append = [&out](std::span<const std::uint8_t> bytes) {
    for (const std::uint8_t byte : bytes) out.push_back(byte);
  };
  out.push_back(flags);
  out.push_back(ttl);
  out.push_back(static_cast<std::uint8_t>(expectation.v2_interval_s));
  append(expectation.auth_key);
  append(source.bytes());
  append(destination.bytes());
  append(message);
  return out;
}

}  // namespace vipd::fuzz
