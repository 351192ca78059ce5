#include "packet_builder.h"

#include "vipd/core/checksum.h"

namespace vipd::test {
namespace {

constexpr std::uint8_t kIpProtoTcp = 6;
constexpr std::uint8_t kIpProtoIcmpv6 = 58;
constexpr std::size_t kIpv4HeaderSize = 20;
constexpr std::size_t kIpv6HeaderSize = 40;
constexpr std::size_t kVlanTagSize = 4;
constexpr std::uint16_t kIpv4FragmentBits = 0x3FFF;

void put16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

void put_bytes(Bytes& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

std::uint16_t get16(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>(bytes[offset] << 8 | bytes[offset + 1]);
}

Bytes ipv4_packet(const IpSpec& spec, std::span<const std::uint8_t> payload) {
  Bytes options = spec.ipv4_options;
  while (options.size() % 4 != 0) options.push_back(0);
  const std::size_t header_size = kIpv4HeaderSize + options.size();
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(0x40 | header_size / 4));
  out.push_back(0xC0);  // TOS as keepalived sends it
  put16(out, static_cast<std::uint16_t>(header_size + payload.size()));
  put16(out, 0);  // id
  put16(out, spec.ipv4_frag_off);
  out.push_back(spec.ttl);
  out.push_back(spec.protocol);
  put16(out, 0);
  put_bytes(out, spec.source.bytes());
  put_bytes(out, spec.destination.bytes());
  put_bytes(out, options);
  const std::uint16_t checksum = core::checksum_finish(core::checksum_add(0, out));
  out[10] = static_cast<std::uint8_t>(checksum >> 8);
  out[11] = static_cast<std::uint8_t>(checksum & 0xFF);
  put_bytes(out, payload);
  return out;
}

Bytes ipv6_packet(const IpSpec& spec, std::span<const std::uint8_t> payload) {
  Bytes out{0x60, 0, 0, 0};
  put16(out, static_cast<std::uint16_t>(payload.size()));
  out.push_back(spec.protocol);
  out.push_back(spec.ttl);
  put_bytes(out, spec.source.bytes());
  put_bytes(out, spec.destination.bytes());
  put_bytes(out, payload);
  return out;
}

std::optional<ParsedVrrp> parse_ipv4(std::span<const std::uint8_t> frame, std::size_t l3) {
  if (frame.size() < l3 + kIpv4HeaderSize) return std::nullopt;
  const auto ip = frame.subspan(l3);
  if (ip[9] != core::kIpProtoVrrp) return std::nullopt;
  if ((get16(ip, 6) & kIpv4FragmentBits) != 0) return std::nullopt;
  const std::size_t header_size = (ip[0] & 0x0F) * 4u;
  const std::size_t total_length = get16(ip, 2);
  if (header_size < kIpv4HeaderSize || total_length < header_size) return std::nullopt;
  if (l3 + header_size > frame.size()) return std::nullopt;
  ParsedVrrp parsed;
  parsed.message_offset = l3 + header_size;
  parsed.message_length = total_length - header_size;
  parsed.meta.source = core::IpAddress::from_bytes(core::Family::V4, ip.data() + 12);
  parsed.meta.destination = core::IpAddress::from_bytes(core::Family::V4, ip.data() + 16);
  parsed.meta.ttl = ip[8];
  return parsed;
}

std::optional<ParsedVrrp> parse_ipv6(std::span<const std::uint8_t> frame, std::size_t l3) {
  if (frame.size() < l3 + kIpv6HeaderSize) return std::nullopt;
  const auto ip = frame.subspan(l3);
  if (ip[6] != core::kIpProtoVrrp) return std::nullopt;
  ParsedVrrp parsed;
  parsed.message_offset = l3 + kIpv6HeaderSize;
  parsed.message_length = get16(ip, 4);
  parsed.meta.source = core::IpAddress::from_bytes(core::Family::V6, ip.data() + 8);
  parsed.meta.destination = core::IpAddress::from_bytes(core::Family::V6, ip.data() + 24);
  parsed.meta.ttl = ip[7];
  return parsed;
}

}  // namespace

std::uint16_t ethertype_for(core::Family family) {
  return family == core::Family::V4 ? kEthertypeIpv4 : kEthertypeIpv6;
}

Bytes ethernet_frame(const L2Spec& l2, std::uint16_t ethertype,
                     std::span<const std::uint8_t> payload) {
  Bytes out;
  put_bytes(out, l2.destination);
  put_bytes(out, l2.source);
  std::uint16_t vlan_id = 100;
  for (const std::uint16_t tpid : l2.tpids) {
    put16(out, tpid);
    put16(out, vlan_id++);
  }
  put16(out, ethertype);
  put_bytes(out, payload);
  return out;
}

Bytes ip_packet(const IpSpec& spec, std::span<const std::uint8_t> payload) {
  return spec.source.is_v4() ? ipv4_packet(spec, payload) : ipv6_packet(spec, payload);
}

Bytes vrrp_message(const core::AdvertSpec& spec, const IpSpec& ip, core::V3Checksum form) {
  Bytes message(core::kMaxAdvertSize);
  const std::size_t size = core::encode_advert(spec, ip.source, ip.destination, message, form);
  message.resize(size);
  return message;
}

Bytes vrrp_frame(const core::AdvertSpec& spec, const IpSpec& ip, const L2Spec& l2,
                 core::V3Checksum form) {
  const Bytes message = vrrp_message(spec, ip, form);
  if (message.empty()) return {};
  return ethernet_frame(l2, ethertype_for(ip.source.family()), ip_packet(ip, message));
}

Bytes arp_frame(std::uint16_t op, const Mac& sender_mac, const core::IpAddress& sender_ip,
                const Mac& target_mac, const core::IpAddress& target_ip, const L2Spec& l2) {
  Bytes arp;
  put16(arp, 1);  // Ethernet
  put16(arp, kEthertypeIpv4);
  arp.push_back(6);
  arp.push_back(4);
  put16(arp, op);
  put_bytes(arp, sender_mac);
  put_bytes(arp, sender_ip.bytes());
  put_bytes(arp, target_mac);
  put_bytes(arp, target_ip.bytes());
  L2Spec arp_l2 = l2;
  arp_l2.source = sender_mac;
  return ethernet_frame(arp_l2, kEthertypeArp, arp);
}

Bytes neighbor_advert_frame(const core::IpAddress& source, const core::IpAddress& target,
                            const Mac& target_mac, const L2Spec& l2) {
  Bytes icmp{136, 0, 0, 0, 0x20, 0, 0, 0};  // type, code, checksum, flags: O (override)
  put_bytes(icmp, target.bytes());
  icmp.push_back(2);  // target link-layer address option, 8 bytes
  icmp.push_back(1);
  put_bytes(icmp, target_mac);
  const auto all_nodes = *core::IpAddress::parse("ff02::1");
  std::uint32_t sum = core::checksum_add(0, source.bytes());
  sum = core::checksum_add(sum, all_nodes.bytes());
  sum += static_cast<std::uint32_t>(icmp.size()) + kIpProtoIcmpv6;
  const std::uint16_t checksum = core::checksum_finish(core::checksum_add(sum, icmp));
  icmp[2] = static_cast<std::uint8_t>(checksum >> 8);
  icmp[3] = static_cast<std::uint8_t>(checksum & 0xFF);
  IpSpec ip{.source = source, .destination = all_nodes, .ttl = 255, .protocol = kIpProtoIcmpv6};
  L2Spec na_l2 = l2;
  na_l2.source = target_mac;
  return ethernet_frame(na_l2, kEthertypeIpv6, ip_packet(ip, icmp));
}

Bytes tcp_frame(const core::IpAddress& source, const core::IpAddress& destination,
                std::uint16_t source_port, std::uint16_t destination_port, const L2Spec& l2) {
  Bytes tcp;
  put16(tcp, source_port);
  put16(tcp, destination_port);
  put_bytes(tcp, std::array<std::uint8_t, 8>{0, 0, 0, 1, 0, 0, 0, 0});  // seq, ack
  tcp.push_back(0x50);                                                  // data offset 5 words
  tcp.push_back(0x02);                                                  // SYN
  put16(tcp, 0xFFFF);                                                   // window
  put16(tcp, 0);  // checksum: nothing on the XDP path reads it
  put16(tcp, 0);
  IpSpec ip{.source = source, .destination = destination, .ttl = 64, .protocol = kIpProtoTcp};
  return ethernet_frame(l2, ethertype_for(source.family()), ip_packet(ip, tcp));
}

std::optional<std::size_t> l3_offset(std::span<const std::uint8_t> frame) {
  if (frame.size() < kEthernetHeaderSize) return std::nullopt;
  std::size_t offset = 12;
  for (int tags = 0; tags < 2; ++tags) {
    const std::uint16_t type = get16(frame, offset);
    if (type != kTpidVlan && type != kTpidQinQ) break;
    if (frame.size() < offset + 2 + kVlanTagSize) return std::nullopt;
    offset += kVlanTagSize;
  }
  return offset + 2;
}

std::optional<ParsedVrrp> parse_vrrp_frame(std::span<const std::uint8_t> frame) {
  const auto l3 = l3_offset(frame);
  if (!l3) return std::nullopt;
  std::optional<ParsedVrrp> parsed;
  const std::uint16_t ethertype = get16(frame, *l3 - 2);
  if (ethertype == kEthertypeIpv4) {
    parsed = parse_ipv4(frame, *l3);
  } else if (ethertype == kEthertypeIpv6) {
    parsed = parse_ipv6(frame, *l3);
  }
  if (parsed) parsed->frame_short = parsed->message_offset + parsed->message_length > frame.size();
  return parsed;
}

}  // namespace vipd::test
