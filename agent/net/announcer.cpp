#include "net/announcer.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "net/ip_frame.h"

namespace vipd::net {
namespace {

constexpr core::MacAddress kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr std::uint32_t kNaOverride = 0x20000000;  // O flag; S is 0 for unsolicited adverts
constexpr std::uint8_t kOptionTargetLinkLayer = 2;

}  // namespace

core::Status Announcer::open(const std::string& ifname, int ifindex, const core::MacAddress& mac) {
  ifname_ = ifname;
  ifindex_ = ifindex;
  mac_ = mac;
  return frames_.open(ifname, ifindex);
}

std::size_t Announcer::announce(std::span<const core::IpAddress> addresses) {
  std::size_t failed = 0;
  for (const core::IpAddress& address : addresses) {
    const bool ok = address.is_v4() ? send_arp(address, address) : send_na(address);
    if (ok) {
      ++sent_;
    } else {
      ++failed;
    }
  }
  return failed;
}

std::size_t Announcer::probe(std::span<const core::IpAddress> addresses) {
  std::size_t failed = 0;
  for (const core::IpAddress& address : addresses) {
    const bool ok =
        address.is_v4() ? send_arp(core::IpAddress::v4(0), address) : send_probe_ns(address);
    if (ok) {
      ++probes_sent_;
    } else {
      ++failed;
    }
  }
  return failed;
}

// An ARP request from `sender` for `target`, broadcast: sender == target announces (gratuitous
// ARP), sender 0.0.0.0 probes.
bool Announcer::send_arp(const core::IpAddress& sender, const core::IpAddress& target) {
  std::array<std::uint8_t, 28> frame{};
  auto* header = reinterpret_cast<arphdr*>(frame.data());
  header->ar_hrd = htons(ARPHRD_ETHER);
  header->ar_pro = htons(ETH_P_IP);
  header->ar_hln = 6;
  header->ar_pln = 4;
  header->ar_op = htons(ARPOP_REQUEST);
  std::uint8_t* body = frame.data() + sizeof(arphdr);
  std::memcpy(body, mac_.data(), 6);
  std::memcpy(body + 6, sender.data(), 4);
  // Target hardware address: broadcast in an announcement (as keepalived), zero in a probe.
  if (sender == target) std::memcpy(body + 10, kBroadcast.data(), 6);
  std::memcpy(body + 16, target.data(), 4);
  if (!frames_.send(kBroadcast, ETH_P_ARP, frame)) {
    last_error_ = std::string(sender == target ? "gratuitous ARP" : "ARP probe") + " for " +
                  target.to_string() + ": " + frames_.error();
    return false;
  }
  return true;
}

bool Announcer::send_probe_ns(const core::IpAddress& address) {
  std::array<std::uint8_t, kProbeNsSize> packet{};
  if (build_probe_ns(address, packet) == 0) return false;
  if (!frames_.send(ipv6_multicast_mac(solicited_node_group(address)), ETH_P_IPV6, packet)) {
    last_error_ =
        "neighbour solicitation probe for " + address.to_string() + ": " + frames_.error();
    return false;
  }
  return true;
}

bool Announcer::send_na(const core::IpAddress& address) {
  if (!icmp6_fd_.valid()) {
    icmp6_fd_.reset(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6));
    if (!icmp6_fd_.valid()) {
      last_error_ = core::errno_error("socket(ICMPv6)", errno).message;
      return false;
    }
    const int hops = 255;
    setsockopt(icmp6_fd_.get(), SOL_SOCKET, SO_BINDTODEVICE, ifname_.c_str(),
               static_cast<socklen_t>(ifname_.size()));
    setsockopt(icmp6_fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
    setsockopt(icmp6_fd_.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex_, sizeof ifindex_);
    icmp6_filter block_all;
    ICMP6_FILTER_SETBLOCKALL(&block_all);
    setsockopt(icmp6_fd_.get(), IPPROTO_ICMPV6, ICMP6_FILTER, &block_all, sizeof block_all);
  }
  // Unsolicited NA (RFC 4861 7.2.6) to all-nodes; the kernel fills the ICMPv6 checksum.
  std::array<std::uint8_t, 32> message{};
  message[0] = ND_NEIGHBOR_ADVERT;
  const std::uint32_t flags = htonl(kNaOverride);
  std::memcpy(message.data() + 4, &flags, 4);
  std::memcpy(message.data() + 8, address.data(), 16);
  message[24] = kOptionTargetLinkLayer;
  message[25] = 1;  // length in units of 8 bytes
  std::memcpy(message.data() + 26, mac_.data(), 6);
  sockaddr_in6 destination{};
  destination.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &destination.sin6_addr);
  destination.sin6_scope_id = static_cast<std::uint32_t>(ifindex_);
  // The source must be the VIP itself so neighbours bind it to our MAC.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  iovec vector{message.data(), message.size()};
  msghdr header{};
  header.msg_name = &destination;
  header.msg_namelen = sizeof destination;
  header.msg_iov = &vector;
  header.msg_iovlen = 1;
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
  cmsg->cmsg_level = IPPROTO_IPV6;
  cmsg->cmsg_type = IPV6_PKTINFO;
  cmsg->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo info{};
  std::memcpy(&info.ipi6_addr, address.data(), 16);
  info.ipi6_ifindex = static_cast<unsigned>(ifindex_);
  std::memcpy(CMSG_DATA(cmsg), &info, sizeof info);
  if (sendmsg(icmp6_fd_.get(), &header, 0) < 0) {
    last_error_ =
        core::errno_error("unsolicited NA for " + address.to_string() + " on " + ifname_, errno)
            .message;
    return false;
  }
  return true;
}

}  // namespace vipd::net
