#include "net/vrrp_socket.h"

#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace vipd::net {
namespace {

constexpr int kTosInternetControl = 0xC0;

core::Error errno_error(const std::string& what) {
  return core::errno_error(what, errno);
}

template <typename T>
bool set_option(int fd, int level, int name, const T& value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0;
}

// Classic BPF "return 0": the send-only socket never queues inbound copies of adverts.
bool drop_all_inbound(int fd) {
  sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, 0}};
  sock_fprog program{1, code};
  return set_option(fd, SOL_SOCKET, SO_ATTACH_FILTER, program);
}

core::Status configure_v4(int fd, int ifindex, const core::IpAddress& source) {
  sockaddr_in local{};
  local.sin_family = AF_INET;
  std::memcpy(&local.sin_addr, source.data(), 4);
  const int ttl = core::kVrrpTtl;
  const unsigned char mttl = core::kVrrpTtl;
  const unsigned char no_loop = 0;
  ip_mreqn group{};
  std::memcpy(&group.imr_multiaddr, core::vrrp_group(core::Family::V4).data(), 4);
  group.imr_address = local.sin_addr;
  group.imr_ifindex = ifindex;
  if (!set_option(fd, IPPROTO_IP, IP_TTL, ttl)) return errno_error("IP_TTL");
  if (!set_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, mttl)) return errno_error("IP_MULTICAST_TTL");
  if (!set_option(fd, IPPROTO_IP, IP_TOS, kTosInternetControl)) return errno_error("IP_TOS");
  if (!set_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, no_loop))
    return errno_error("IP_MULTICAST_LOOP");
  if (!set_option(fd, IPPROTO_IP, IP_MULTICAST_IF, group)) return errno_error("IP_MULTICAST_IF");
  if (!set_option(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, group))
    return errno_error("IP_ADD_MEMBERSHIP 224.0.0.18");
  return {};
}

core::Status configure_v6(int fd, int ifindex) {
  const int hops = core::kVrrpTtl;
  const int no_loop = 0;
  const int on = 1;
  ipv6_mreq group{};
  std::memcpy(&group.ipv6mr_multiaddr, core::vrrp_group(core::Family::V6).data(), 16);
  group.ipv6mr_interface = static_cast<unsigned>(ifindex);
  if (!set_option(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, hops))
    return errno_error("IPV6_UNICAST_HOPS");
  if (!set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops))
    return errno_error("IPV6_MULTICAST_HOPS");
  if (!set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, no_loop))
    return errno_error("IPV6_MULTICAST_LOOP");
  if (!set_option(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex))
    return errno_error("IPV6_MULTICAST_IF");
  if (!set_option(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, on)) return errno_error("IPV6_RECVHOPLIMIT");
  if (!set_option(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, on)) return errno_error("IPV6_RECVPKTINFO");
  if (!set_option(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, group))
    return errno_error("IPV6_ADD_MEMBERSHIP ff02::12");
  return {};
}

sockaddr_storage to_sockaddr(const core::IpAddress& address, int ifindex, socklen_t& length) {
  sockaddr_storage storage{};
  if (address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, address.data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, address.data(), 16);
    if (address.is_link_local() || address.is_multicast()) {
      sin6->sin6_scope_id = static_cast<std::uint32_t>(ifindex);
    }
    length = sizeof(sockaddr_in6);
  }
  return storage;
}

}  // namespace

void VrrpSocket::close() {
  fd_.reset();
  pending_.clear();
}

core::Status VrrpSocket::open(const std::string& ifname, int ifindex, const core::IpAddress& source,
                              bool receive) {
  close();
  family_ = source.family();
  source_ = source;
  ifindex_ = ifindex;
  const int domain = source.is_v4() ? AF_INET : AF_INET6;
  fd_.reset(socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, core::kIpProtoVrrp));
  if (!fd_.valid()) return errno_error("socket(SOCK_RAW, IPPROTO_VRRP)");
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                 static_cast<socklen_t>(ifname.size())) != 0) {
    return errno_error("SO_BINDTODEVICE " + ifname);
  }
  core::Status configured =
      source.is_v4() ? configure_v4(fd_.get(), ifindex, source) : configure_v6(fd_.get(), ifindex);
  if (!configured) return configured;
  if (!receive && !drop_all_inbound(fd_.get())) return errno_error("SO_ATTACH_FILTER");
  if (!source.is_v4()) {
    // IPv6 has no IP_MULTICAST_IF source: binding picks the link-local source of every advert.
    socklen_t length = 0;
    const sockaddr_storage local = to_sockaddr(source, ifindex, length);
    if (bind(fd_.get(), reinterpret_cast<const sockaddr*>(&local), length) != 0) {
      return errno_error("bind " + source.to_string());
    }
  }
  return {};
}

void VrrpSocket::queue(std::span<const std::uint8_t> message, const core::IpAddress& destination) {
  if (message.size() > core::kMaxAdvertSize) return;
  Pending& pending = pending_.emplace_back();
  std::memcpy(pending.bytes.data(), message.data(), message.size());
  pending.size = message.size();
  pending.destination = destination;
}

std::size_t VrrpSocket::flush() {
  if (pending_.empty() || !fd_.valid()) return 0;
  const std::size_t count = pending_.size();
  if (headers_.size() < count) {
    headers_.resize(count);
    slots_.resize(count);
  }
  for (std::size_t i = 0; i < count; ++i) {
    SendSlot& slot = slots_[i];
    socklen_t length = 0;
    slot.address = to_sockaddr(pending_[i].destination, ifindex_, length);
    slot.vector = {pending_[i].bytes.data(), pending_[i].size};
    headers_[i] = {};
    msghdr& header = headers_[i].msg_hdr;
    header.msg_name = &slot.address;
    header.msg_namelen = length;
    header.msg_iov = &slot.vector;
    header.msg_iovlen = 1;
    if (family_ == core::Family::V4) {
      // The source address of every advert is the configured one, whatever the route says.
      header.msg_control = slot.control.data();
      header.msg_controllen = slot.control.size();
      cmsghdr* cmsg = CMSG_FIRSTHDR(&header);
      cmsg->cmsg_level = IPPROTO_IP;
      cmsg->cmsg_type = IP_PKTINFO;
      cmsg->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo info{};
      info.ipi_ifindex = ifindex_;
      std::memcpy(&info.ipi_spec_dst, source_.data(), 4);
      std::memcpy(CMSG_DATA(cmsg), &info, sizeof info);
    }
  }
  std::size_t done = 0;
  std::size_t failed = 0;
  while (done < count) {
    const int n =
        sendmmsg(fd_.get(), headers_.data() + done, static_cast<unsigned>(count - done), 0);
    if (n <= 0) {
      last_error_ = errno_error("sendmmsg to " + pending_[done].destination.to_string()).message;
      ++failed;
      ++done;  // skip the message the kernel refused; the rest still go out
      continue;
    }
    done += static_cast<std::size_t>(n);
    sent_ += static_cast<std::uint64_t>(n);
  }
  send_errors_ += failed;
  pending_.clear();
  return failed;
}

bool VrrpSocket::receive(ReceivedPacket& packet) {
  while (fd_.valid()) {
    sockaddr_storage from{};
    iovec vector{receive_buffer_.data(), receive_buffer_.size()};
    alignas(cmsghdr) char control[256];
    msghdr header{};
    header.msg_name = &from;
    header.msg_namelen = sizeof from;
    header.msg_iov = &vector;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd_.get(), &header, MSG_DONTWAIT);
    if (n < 0) return false;
    const auto size = static_cast<std::size_t>(n);
    const std::uint8_t* bytes = receive_buffer_.data();
    if (family_ == core::Family::V4) {
      // IPv4 raw sockets deliver the IP header: take TTL, addresses and the exact payload from it.
      if (size < 20 || (bytes[0] >> 4) != 4) continue;
      const std::size_t header_length = std::size_t{bytes[0] & 0x0Fu} * 4;
      const std::size_t total = std::size_t{bytes[2]} << 8 | bytes[3];
      if (header_length < 20 || total < header_length || total > size) continue;
      packet.meta.ttl = bytes[8];
      packet.meta.source = core::IpAddress::from_bytes(core::Family::V4, bytes + 12);
      packet.meta.destination = core::IpAddress::from_bytes(core::Family::V4, bytes + 16);
      packet.meta.ttl_exempt = false;
      packet.message = {bytes + header_length, total - header_length};
      return true;
    }
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&from);
    packet.meta.source = core::IpAddress::from_bytes(core::Family::V6, sin6->sin6_addr.s6_addr);
    packet.meta.ttl = 0;
    packet.meta.ttl_exempt = false;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&header); cmsg != nullptr;
         cmsg = CMSG_NXTHDR(&header, cmsg)) {
      if (cmsg->cmsg_level != IPPROTO_IPV6) continue;
      if (cmsg->cmsg_type == IPV6_HOPLIMIT) {
        int hops = 0;
        std::memcpy(&hops, CMSG_DATA(cmsg), sizeof hops);
        packet.meta.ttl = static_cast<std::uint8_t>(hops);
      } else if (cmsg->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info{};
        std::memcpy(&info, CMSG_DATA(cmsg), sizeof info);
        packet.meta.destination =
            core::IpAddress::from_bytes(core::Family::V6, info.ipi6_addr.s6_addr);
      }
    }
    packet.message = {bytes, size};
    return true;
  }
  return false;
}

}  // namespace vipd::net
