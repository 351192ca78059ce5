#include "vipd/core/checksum.h"

#include <bit>
#include <cstring>

#include "vipd/core/advert.h"

namespace vipd::core {

namespace {

std::uint32_t load_be32(const std::uint8_t* bytes) {
  std::uint32_t word;
  std::memcpy(&word, bytes, sizeof word);
  return std::endian::native == std::endian::little ? __builtin_bswap32(word) : word;
}

}  // namespace

// Sums 32-bit words into 64 bits: 2^16 = 1 (mod 0xFFFF), so the high and low halves of each word
// land where 16-bit words would, carries cannot be lost for any input below 16 GiB, and the
// folded result is the same as word-by-word summing.
std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes) {
  std::uint64_t wide = sum;
  const std::uint8_t* data = bytes.data();
  std::size_t remaining = bytes.size();
  for (; remaining >= 4; data += 4, remaining -= 4) wide += load_be32(data);
  if (remaining >= 2) {
    wide += static_cast<std::uint32_t>(data[0] << 8 | data[1]);
    data += 2;
    remaining -= 2;
  }
  if (remaining == 1) wide += static_cast<std::uint32_t>(data[0] << 8);
  wide = (wide & 0xFFFF'FFFF) + (wide >> 32);
  wide = (wide & 0xFFFF'FFFF) + (wide >> 32);
  while (wide >> 16) wide = (wide & 0xFFFF) + (wide >> 16);
  return static_cast<std::uint32_t>(wide);
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
