// An IPv4 or IPv6 address as raw network-order bytes: what VRRP compares and puts on the wire.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vipd::core {

enum class Family : std::uint8_t { V4 = 4, V6 = 6 };

constexpr std::size_t address_size(Family family) {
  return family == Family::V4 ? 4 : 16;
}

class IpAddress {
 public:
  constexpr IpAddress() = default;  // 0.0.0.0

  // `bytes` must hold address_size(family) bytes in network order.
  static IpAddress from_bytes(Family family, const std::uint8_t* bytes);
  // Host-order IPv4 value, e.g. 0xC6120001 for 198.18.0.1.
  static IpAddress v4(std::uint32_t host_order);
  // Dotted quad or RFC 4291 text; nullopt on anything else (no prefix, no scope id).
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::V4; }
  std::size_t size() const { return address_size(family_); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::span<const std::uint8_t> bytes() const { return {bytes_.data(), size()}; }
  bool is_unspecified() const;
  bool is_multicast() const;
  bool is_link_local() const;  // fe80::/10

  std::string to_string() const;

  // Family first, then unsigned byte-wise (network order), as VRRP's tie-break requires.
  friend std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) {
    if (a.family_ != b.family_) return a.family_ <=> b.family_;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a.bytes_[i] != b.bytes_[i]) return a.bytes_[i] <=> b.bytes_[i];
    }
    return std::strong_ordering::equal;
  }
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return (a <=> b) == std::strong_ordering::equal;
  }

 private:
  Family family_ = Family::V4;
  std::array<std::uint8_t, 16> bytes_{};
};

// The VRRP multicast groups: 224.0.0.18 and ff02::12.
IpAddress vrrp_group(Family family);

}  // namespace vipd::core
