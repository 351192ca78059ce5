#include "net/ip_frame.h"

#include <array>
#include <cstring>

#include "vipd/core/checksum.h"

namespace vipd::net {
namespace {

constexpr std::uint8_t kTtl = 255;
constexpr std::uint8_t kTrafficClassCs6 = 0xC0;  // what the socket path sets (IP_TOS / TCLASS)
constexpr std::uint8_t kIpProtoIcmpv6 = 58;
constexpr std::uint8_t kNeighborSolicitation = 135;

void store16(std::uint8_t* at, std::uint16_t value) {
  at[0] = static_cast<std::uint8_t>(value >> 8);
  at[1] = static_cast<std::uint8_t>(value);
}

void write_ipv6_header(std::uint8_t* at, std::uint16_t payload_length, std::uint8_t next_header,
                       std::span<const std::uint8_t> source,
                       std::span<const std::uint8_t> destination, std::uint8_t traffic_class) {
  at[0] = static_cast<std::uint8_t>(0x60 | traffic_class >> 4);
  at[1] = static_cast<std::uint8_t>(traffic_class << 4);
  at[2] = 0;
  at[3] = 0;
  store16(at + 4, payload_length);
  at[6] = next_header;
  at[7] = kTtl;
  std::memcpy(at + 8, source.data(), 16);
  std::memcpy(at + 24, destination.data(), 16);
}

}  // namespace

std::size_t build_vrrp_packet(const core::IpAddress& source, const core::IpAddress& destination,
                              std::span<const std::uint8_t> message, std::span<std::uint8_t> out) {
  if (source.family() != destination.family()) return 0;
  if (source.is_v4()) {
    const std::size_t size = kIpv4HeaderSize + message.size();
    if (out.size() < size || size > 0xFFFF) return 0;
    std::uint8_t* ip = out.data();
    ip[0] = 0x45;
    ip[1] = kTrafficClassCs6;
    store16(ip + 2, static_cast<std::uint16_t>(size));
    store16(ip + 4, 0);       // identification: never fragmented
    store16(ip + 6, 0x4000);  // DF
    ip[8] = kTtl;
    ip[9] = core::kIpProtoVrrp;
    store16(ip + 10, 0);
    std::memcpy(ip + 12, source.data(), 4);
    std::memcpy(ip + 16, destination.data(), 4);
    store16(ip + 10, core::checksum_finish(core::checksum_add(0, {ip, kIpv4HeaderSize})));
    std::memcpy(ip + kIpv4HeaderSize, message.data(), message.size());
    return size;
  }
  const std::size_t size = kIpv6HeaderSize + message.size();
  if (out.size() < size || message.size() > 0xFFFF) return 0;
  write_ipv6_header(out.data(), static_cast<std::uint16_t>(message.size()), core::kIpProtoVrrp,
                    source.bytes(), destination.bytes(), kTrafficClassCs6);
  std::memcpy(out.data() + kIpv6HeaderSize, message.data(), message.size());
  return size;
}

core::IpAddress solicited_node_group(const core::IpAddress& address) {
  std::array<std::uint8_t, 16> group = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  std::memcpy(group.data() + 13, address.data() + 13, 3);
  return core::IpAddress::from_bytes(core::Family::V6, group.data());
}

core::MacAddress ipv6_multicast_mac(const core::IpAddress& group) {
  return {0x33, 0x33, group.data()[12], group.data()[13], group.data()[14], group.data()[15]};
}

std::size_t build_probe_ns(const core::IpAddress& target, std::span<std::uint8_t> out) {
  if (target.is_v4() || out.size() < kProbeNsSize) return 0;
  const std::array<std::uint8_t, 16> unspecified{};
  const core::IpAddress group = solicited_node_group(target);
  constexpr std::uint16_t kLength = 24;  // type, code, checksum, reserved, target
  write_ipv6_header(out.data(), kLength, kIpProtoIcmpv6, unspecified, group.bytes(), 0);
  std::uint8_t* icmp = out.data() + kIpv6HeaderSize;
  std::memset(icmp, 0, kLength);
  icmp[0] = kNeighborSolicitation;
  std::memcpy(icmp + 8, target.data(), 16);
  // Pseudo-header: source, destination, 32-bit length, next header.
  std::uint32_t sum = core::checksum_add(0, unspecified);
  sum = core::checksum_add(sum, group.bytes());
  sum += kLength + kIpProtoIcmpv6;
  sum = core::checksum_add(sum, {icmp, kLength});
  store16(icmp + 2, core::checksum_finish(sum));
  return kProbeNsSize;
}

}  // namespace vipd::net
