// IP packets that the host's stack would not send for us, built whole so they can leave as one
// frame to a MAC of our choosing: a VRRP advert IP-addressed to a VIP we hold ourselves (the
// routing table would keep it local), and the RFC 4862 duplicate-address probe from "::".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"

namespace vipd::net {

inline constexpr std::size_t kIpv4HeaderSize = 20;
inline constexpr std::size_t kIpv6HeaderSize = 40;
inline constexpr std::size_t kMaxVrrpPacket = kIpv6HeaderSize + core::kMaxAdvertSize;
inline constexpr std::size_t kProbeNsSize = kIpv6HeaderSize + 24;

// `message` (an encoded VRRP advert) behind an IPv4 header (TTL 255, TOS 0xC0, protocol 112) or
// an IPv6 header (hop limit 255, traffic class 0xC0, next header 112). Returns the packet size, 0
// when `out` is too small or the families differ.
std::size_t build_vrrp_packet(const core::IpAddress& source, const core::IpAddress& destination,
                              std::span<const std::uint8_t> message, std::span<std::uint8_t> out);

// A neighbour solicitation for `target` from the unspecified address to its solicited-node group,
// hop limit 255, no source link-layer option (RFC 4862 5.4.2): whoever holds `target` answers
// with a neighbour advert to all-nodes. Returns kProbeNsSize, or 0 for a non-IPv6 target.
std::size_t build_probe_ns(const core::IpAddress& target, std::span<std::uint8_t> out);

// ff02::1:ffXX:XXXX for an IPv6 address.
core::IpAddress solicited_node_group(const core::IpAddress& address);
// The Ethernet address of an IPv6 multicast group: 33:33 and its low 32 bits (RFC 2464 7).
core::MacAddress ipv6_multicast_mac(const core::IpAddress& group);

}  // namespace vipd::net
