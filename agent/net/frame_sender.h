// One AF_PACKET socket that sends a whole network-layer packet (ARP, IPv4, IPv6) as one Ethernet
// frame to a given MAC, bypassing routing: announcements, RFC 5227 probes, and split-brain
// contact adverts to a rival's MAC.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vipd/core/mac_address.h"
#include "vipd/core/result.h"
#include "vipd/core/unique_fd.h"

namespace vipd::net {

class FrameSender {
 public:
  core::Status open(const std::string& ifname, int ifindex);
  // `ethertype` in host order (ETH_P_ARP, ETH_P_IP, ETH_P_IPV6). False: error() says why.
  bool send(const core::MacAddress& to, std::uint16_t ethertype,
            std::span<const std::uint8_t> packet);
  const std::string& error() const { return error_; }

 private:
  core::UniqueFd fd_;
  int ifindex_ = 0;
  std::string ifname_;
  std::string error_;
};

}  // namespace vipd::net
