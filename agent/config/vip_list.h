// VIP list syntax shared with ipfailover's OPENSHIFT_HA_VIRTUAL_IPS: addresses separated by commas
// or whitespace, last-octet (IPv4) or last-hextet (IPv6) ranges, optional /prefix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vipd/core/ip_address.h"

namespace vipd::config {

struct Vip {
  core::IpAddress address;
  std::uint8_t prefix = 32;  // default /32 for IPv4, /128 for IPv6
  friend bool operator==(const Vip&, const Vip&) = default;
};

struct VipListResult {
  std::vector<Vip> vips;
  std::vector<std::string> errors;  // one line each, naming the bad token
};

// Expands "198.18.0.10-12, 198.18.0.20/24 fd00:198:18::a-c" into single addresses.
VipListResult parse_vip_list(std::string_view text);

// ipfailover's grouping: groups == 0 gives one instance per VIP; otherwise floor(N/G) VIPs each
// and the first N mod G groups one more; G > N gives N single-VIP groups.
std::vector<std::vector<Vip>> group_vips(const std::vector<Vip>& vips, unsigned groups);

}  // namespace vipd::config
