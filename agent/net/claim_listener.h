// The raw-socket path's twin of the XDP program's ARP/NA watch: ARP packets whose sender address
// is one of the watched VIPs, and neighbour adverts, as (address, MAC) claims. One AF_PACKET
// socket; a classic BPF filter keeps every other packet in the kernel, so an unrelated ARP storm
// does not wake the agent.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"
#include "vipd/core/result.h"
#include "vipd/core/unique_fd.h"

namespace vipd::net {

struct Claim {
  core::IpAddress address;
  core::MacAddress mac{};
};

class ClaimListener {
 public:
  core::Status open(const std::string& ifname, int ifindex);
  // Replaces the watched addresses (IPv4 in the socket filter; IPv6 checked after reading).
  core::Status watch(std::span<const core::IpAddress> addresses);
  int fd() const { return fd_.get(); }
  // Non-blocking: false when nothing (more) is waiting. Malformed packets are skipped.
  bool receive(Claim& claim);

 private:
  bool parse_arp(std::span<const std::uint8_t> packet, Claim& claim) const;
  bool parse_neighbor_advert(std::span<const std::uint8_t> packet,
                             const core::MacAddress& frame_source, Claim& claim) const;
  bool watched(const core::IpAddress& address) const;

  core::UniqueFd fd_;
  std::string ifname_;
  std::vector<core::IpAddress> watched_;
};

}  // namespace vipd::net
