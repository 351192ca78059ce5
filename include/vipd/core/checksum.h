// Internet checksum (RFC 1071) and the VRRP pseudo-headers.
#pragma once

#include <cstdint>
#include <span>

#include "vipd/core/ip_address.h"

namespace vipd::core {

// One's-complement sum of 16-bit big-endian words, folded to 16 bits, not inverted.
std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes);
// Folds and inverts: the value to store in a checksum field.
std::uint16_t checksum_finish(std::uint32_t sum);
// Sum of the IPv4 or IPv6 pseudo-header for protocol 112 and `length` bytes of payload.
std::uint32_t pseudo_header_sum(const IpAddress& source, const IpAddress& destination,
                                std::uint32_t length);

}  // namespace vipd::core
