// Gratuitous ARP (AF_PACKET) and unsolicited neighbour advertisements (ICMPv6) for VIPs, so
// switches and neighbours move their caches to the new master at once.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"
#include "vipd/core/result.h"

namespace vipd::net {

class Announcer {
 public:
  Announcer() = default;
  ~Announcer();
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // IPv6 sockets are opened lazily on the first IPv6 VIP.
  core::Status open(const std::string& ifname, int ifindex, const core::MacAddress& mac);
  // One announcement per address; returns how many failed (last_error() says why).
  std::size_t announce(std::span<const core::IpAddress> addresses);
  const std::string& last_error() const { return last_error_; }
  std::uint64_t sent() const { return sent_; }

 private:
  bool send_arp(const core::IpAddress& address);
  bool send_na(const core::IpAddress& address);

  int packet_fd_ = -1;
  int icmp6_fd_ = -1;
  int ifindex_ = 0;
  std::string ifname_;
  core::MacAddress mac_{};
  std::uint64_t sent_ = 0;
  std::string last_error_;
};

}  // namespace vipd::net
