#include "vipd/core/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace vipd::core {

IpAddress IpAddress::from_bytes(Family family, const std::uint8_t* bytes) {
  IpAddress address;
  address.family_ = family;
  std::memcpy(address.bytes_.data(), bytes, address_size(family));
  return address;
}

IpAddress IpAddress::v4(std::uint32_t host_order) {
  const std::uint8_t bytes[4] = {
      static_cast<std::uint8_t>(host_order >> 24), static_cast<std::uint8_t>(host_order >> 16),
      static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)};
  return from_bytes(Family::V4, bytes);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  // inet_pton stops at a NUL: "198.18.0.1\0junk" must not parse as 198.18.0.1.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN] = {};
  std::memcpy(buffer, text.data(), text.size());
  std::uint8_t bytes[16];
  if (inet_pton(AF_INET, buffer, bytes) == 1) return from_bytes(Family::V4, bytes);
  if (inet_pton(AF_INET6, buffer, bytes) == 1) return from_bytes(Family::V6, bytes);
  return std::nullopt;
}

bool IpAddress::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (bytes_[i] != 0) return false;
  }
  return true;
}

bool IpAddress::is_multicast() const {
  return family_ == Family::V4 ? (bytes_[0] & 0xF0) == 0xE0 : bytes_[0] == 0xFF;
}

bool IpAddress::is_link_local() const {
  return family_ == Family::V6 && bytes_[0] == 0xFE && (bytes_[1] & 0xC0) == 0x80;
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_ == Family::V4 ? AF_INET : AF_INET6, bytes_.data(), buffer, sizeof buffer);
  return buffer;
}

IpAddress vrrp_group(Family family) {
  static constexpr std::uint8_t kV4[4] = {224, 0, 0, 18};
  static constexpr std::uint8_t kV6[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12};
  return IpAddress::from_bytes(family, family == Family::V4 ? kV4 : kV6);
}

}  // namespace vipd::core
