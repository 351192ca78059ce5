// Frames for the BPF tests: Ethernet (optionally VLAN/QinQ tagged) around IPv4/IPv6 around a VRRP
// advert from vipd::core::encode_advert, plus ARP, neighbour adverts and TCP. Also a reference
// parser that applies the XDP program's frame-level rules, so tests can feed the same frame to
// vipd::core's codec.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"

namespace vipd::test {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

inline constexpr std::uint16_t kEthertypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEthertypeIpv6 = 0x86DD;
inline constexpr std::uint16_t kEthertypeArp = 0x0806;
inline constexpr std::uint16_t kTpidVlan = 0x8100;
inline constexpr std::uint16_t kTpidQinQ = 0x88A8;
inline constexpr std::size_t kEthernetHeaderSize = 14;

struct L2Spec {
  Mac source{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  Mac destination{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12};
  std::vector<std::uint16_t> tpids{};  // outer first: {0x88A8, 0x8100} is QinQ
};

struct IpSpec {
  core::IpAddress source;
  core::IpAddress destination;
  std::uint8_t ttl = 255;           // or hop limit
  std::uint8_t protocol = 112;      // or next header
  Bytes ipv4_options{};             // padded to a multiple of 4
  std::uint16_t ipv4_frag_off = 0;  // host order: flags << 13 | offset
};

Bytes ethernet_frame(const L2Spec& l2, std::uint16_t ethertype,
                     std::span<const std::uint8_t> payload);
// IPv4 (with a correct header checksum) or IPv6 by the family of spec.source.
Bytes ip_packet(const IpSpec& spec, std::span<const std::uint8_t> payload);
std::uint16_t ethertype_for(core::Family family);

// The VRRP message for `spec`, sent from ip.source to ip.destination (empty if not encodable).
Bytes vrrp_message(const core::AdvertSpec& spec, const IpSpec& ip,
                   core::V3Checksum form = core::V3Checksum::PseudoHeader);
// A whole frame: L2 + IP + VRRP message.
Bytes vrrp_frame(const core::AdvertSpec& spec, const IpSpec& ip, const L2Spec& l2 = {},
                 core::V3Checksum form = core::V3Checksum::PseudoHeader);

// ARP over Ethernet/IPv4; op 1 request, 2 reply. A gratuitous ARP has sender IP == target IP.
Bytes arp_frame(std::uint16_t op, const Mac& sender_mac, const core::IpAddress& sender_ip,
                const Mac& target_mac, const core::IpAddress& target_ip, const L2Spec& l2 = {});
// Unsolicited neighbour advertisement for `target` with a target link-layer address option.
Bytes neighbor_advert_frame(const core::IpAddress& source, const core::IpAddress& target,
                            const Mac& target_mac, const L2Spec& l2 = {});
// A TCP SYN (non-VRRP traffic).
Bytes tcp_frame(const core::IpAddress& source, const core::IpAddress& destination,
                std::uint16_t source_port, std::uint16_t destination_port, const L2Spec& l2 = {});

// What the XDP program sees in a frame, by its frame-level rules (see bpf/vipd_xdp.bpf.c).
struct ParsedVrrp {
  std::size_t message_offset = 0;  // of the VRRP message in the frame
  std::size_t message_length = 0;  // from the IP header
  bool frame_short = false;        // the frame ends before message_length bytes
  core::PacketMeta meta;           // ttl_exempt left false: the caller knows its peers
  // The message as the codec must see it (valid only when !frame_short).
  std::span<const std::uint8_t> message(std::span<const std::uint8_t> frame) const {
    return frame.subspan(message_offset, message_length);
  }
  // The 8-byte VRRP header is in the message and in the frame.
  bool header_readable(std::size_t frame_size) const {
    return message_length >= core::kVrrpHeaderSize &&
           message_offset + core::kVrrpHeaderSize <= frame_size;
  }
};
// nullopt: not a VRRP packet for the XDP program (other protocol, fragment, malformed IP header).
std::optional<ParsedVrrp> parse_vrrp_frame(std::span<const std::uint8_t> frame);

// Offset of the IP header, or nullopt if the frame is cut within the L2 headers.
std::optional<std::size_t> l3_offset(std::span<const std::uint8_t> frame);

}  // namespace vipd::test
