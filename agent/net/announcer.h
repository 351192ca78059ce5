// Gratuitous ARP (AF_PACKET) and unsolicited neighbour advertisements (ICMPv6) for VIPs, so
// switches and neighbours move their caches to the new master at once; and RFC 5227 / RFC 4862
// probes of VIPs we hold, which a second holder answers.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "net/frame_sender.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"
#include "vipd/core/result.h"
#include "vipd/core/unique_fd.h"

namespace vipd::net {

class Announcer {
 public:
  // IPv6 sockets are opened lazily on the first IPv6 VIP.
  core::Status open(const std::string& ifname, int ifindex, const core::MacAddress& mac);
  // One announcement per address; returns how many failed (last_error() says why).
  std::size_t announce(std::span<const core::IpAddress> addresses);
  // One probe per address: an ARP request from 0.0.0.0 (RFC 5227 2.1.1), or a neighbour
  // solicitation from :: (RFC 4862 5.4.2). Returns how many failed.
  std::size_t probe(std::span<const core::IpAddress> addresses);
  const std::string& last_error() const { return last_error_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t probes_sent() const { return probes_sent_; }

 private:
  bool send_arp(const core::IpAddress& sender, const core::IpAddress& target);
  bool send_na(const core::IpAddress& address);
  bool send_probe_ns(const core::IpAddress& address);

  FrameSender frames_;
  core::UniqueFd icmp6_fd_;
  int ifindex_ = 0;
  std::string ifname_;
  core::MacAddress mac_{};
  std::uint64_t sent_ = 0;
  std::uint64_t probes_sent_ = 0;
  std::string last_error_;
};

}  // namespace vipd::net
