#include "net/claim_listener.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace vipd::net {
namespace {

constexpr std::uint8_t kIpProtoIcmpv6 = 58;
constexpr std::uint8_t kNeighborAdvert = 136;
constexpr std::uint8_t kOptionTargetLinkLayer = 2;
constexpr std::size_t kArpSenderIpOffset = 14;  // behind the 8-byte header and the sender MAC
constexpr std::size_t kMaxWatchedInFilter = 200;

sock_filter statement(std::uint16_t code, std::uint32_t k) {
  return sock_filter{code, 0, 0, k};
}
sock_filter jump(std::uint16_t code, std::uint32_t k, std::uint8_t if_true, std::uint8_t if_false) {
  return sock_filter{code, if_true, if_false, k};
}

// Accepts inbound (not our own outgoing) ARP whose sender IP is watched, and ICMPv6 neighbour
// adverts; the socket is SOCK_DGRAM, so offset 0 is the network header.
std::vector<sock_filter> claim_filter(std::span<const core::IpAddress> watched) {
  std::vector<std::uint32_t> v4;
  for (const core::IpAddress& address : watched) {
    if (!address.is_v4() || v4.size() >= kMaxWatchedInFilter) continue;
    std::uint32_t host;
    std::memcpy(&host, address.data(), 4);
    v4.push_back(ntohl(host));
  }
  constexpr std::uint32_t kAccept = 0xFFFF;
  std::vector<sock_filter> program;
  program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE));
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 0, 1));
  program.push_back(statement(BPF_RET | BPF_K, 0));
  program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL));
  // ARP: compare the sender address with each watched VIP (none: drop every ARP).
  const auto n = static_cast<std::uint8_t>(v4.size());
  program.push_back(
      jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 0, static_cast<std::uint8_t>(n + 2)));
  program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, kArpSenderIpOffset));
  for (std::uint8_t i = 0; i < n; ++i) {
    // Match: jump to the accept after the drop that ends this block.
    program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, v4[i], static_cast<std::uint8_t>(n - i), 0));
  }
  program.push_back(statement(BPF_RET | BPF_K, 0));
  program.push_back(statement(BPF_RET | BPF_K, kAccept));
  // IPv6: next header ICMPv6 and type neighbour advert (no extension headers: RFC 4861 NAs
  // carry none).
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 4));
  program.push_back(statement(BPF_LD | BPF_B | BPF_ABS, 6));
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kIpProtoIcmpv6, 0, 2));
  program.push_back(statement(BPF_LD | BPF_B | BPF_ABS, 40));
  program.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kNeighborAdvert, 1, 0));
  program.push_back(statement(BPF_RET | BPF_K, 0));
  program.push_back(statement(BPF_RET | BPF_K, kAccept));
  return program;
}

}  // namespace

core::Status ClaimListener::open(const std::string& ifname, int ifindex) {
  ifname_ = ifname;
  fd_.reset(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
  if (!fd_.valid()) return core::errno_error("socket(AF_PACKET)", errno);
  // The filter first, then bind: nothing unfiltered is queued in between.
  if (core::Status status = watch({}); !status) return status;
  sockaddr_ll local{};
  local.sll_family = AF_PACKET;
  local.sll_protocol = htons(ETH_P_ALL);
  local.sll_ifindex = ifindex;
  if (bind(fd_.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return core::errno_error("bind(AF_PACKET) " + ifname, errno);
  }
  return {};
}

core::Status ClaimListener::watch(std::span<const core::IpAddress> addresses) {
  watched_.assign(addresses.begin(), addresses.end());
  std::vector<sock_filter> program = claim_filter(addresses);
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0) {
    return core::errno_error("SO_ATTACH_FILTER on " + ifname_, errno);
  }
  return {};
}

bool ClaimListener::watched(const core::IpAddress& address) const {
  return std::find(watched_.begin(), watched_.end(), address) != watched_.end();
}

bool ClaimListener::receive(Claim& claim) {
  std::array<std::uint8_t, 1500> buffer;
  for (int skipped = 0; skipped < 64; ++skipped) {
    sockaddr_ll from{};
    socklen_t from_length = sizeof from;
    const ssize_t size = recvfrom(fd_.get(), buffer.data(), buffer.size(), 0,
                                  reinterpret_cast<sockaddr*>(&from), &from_length);
    if (size < 0) return false;
    const std::span<const std::uint8_t> packet(buffer.data(), static_cast<std::size_t>(size));
    core::MacAddress source{};
    std::memcpy(source.data(), from.sll_addr, source.size());
    const bool parsed = ntohs(from.sll_protocol) == ETH_P_ARP
                            ? parse_arp(packet, claim)
                            : parse_neighbor_advert(packet, source, claim);
    if (parsed && watched(claim.address)) return true;
  }
  return false;
}

bool ClaimListener::parse_arp(std::span<const std::uint8_t> packet, Claim& claim) const {
  // Ethernet/IPv4 ARP, request or reply.
  if (packet.size() < 28) return false;
  const std::uint8_t* arp = packet.data();
  const bool ethernet_ipv4 =
      arp[0] == 0 && arp[1] == 1 && arp[2] == 0x08 && arp[3] == 0 && arp[4] == 6 && arp[5] == 4;
  const bool request_or_reply = arp[6] == 0 && (arp[7] == 1 || arp[7] == 2);
  if (!ethernet_ipv4 || !request_or_reply) return false;
  std::memcpy(claim.mac.data(), arp + 8, 6);
  claim.address = core::IpAddress::from_bytes(core::Family::V4, arp + kArpSenderIpOffset);
  return true;
}

bool ClaimListener::parse_neighbor_advert(std::span<const std::uint8_t> packet,
                                          const core::MacAddress& frame_source,
                                          Claim& claim) const {
  constexpr std::size_t kIcmp = 40;
  if (packet.size() < kIcmp + 24 || packet[6] != kIpProtoIcmpv6 || packet[7] != 255 ||
      packet[kIcmp] != kNeighborAdvert) {
    return false;
  }
  claim.address = core::IpAddress::from_bytes(core::Family::V6, packet.data() + kIcmp + 8);
  claim.mac = frame_source;
  // The target link-layer address option names the owner (a proxy may send for it).
  if (packet.size() >= kIcmp + 32 && packet[kIcmp + 24] == kOptionTargetLinkLayer &&
      packet[kIcmp + 25] == 1) {
    std::memcpy(claim.mac.data(), packet.data() + kIcmp + 26, 6);
  }
  return true;
}

}  // namespace vipd::net
