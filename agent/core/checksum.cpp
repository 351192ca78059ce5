#include "vipd/core/checksum.h"

#include "vipd/core/advert.h"

namespace vipd::core {

std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  }
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}

std::uint16_t checksum_finish(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xFFFF);
}

std::uint32_t pseudo_header_sum(const IpAddress& source, const IpAddress& destination,
                                std::uint32_t length) {
  std::uint32_t sum = checksum_add(0, source.bytes());
  sum = checksum_add(sum, destination.bytes());
  // IPv4: zero, protocol, 16-bit length. IPv6: 32-bit length, 3 zero bytes, next header.
  sum += kIpProtoVrrp;
  sum += length & 0xFFFF;
  sum += length >> 16;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}

}  // namespace vipd::core
