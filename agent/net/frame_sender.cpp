#include "net/frame_sender.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vipd::net {

core::Status FrameSender::open(const std::string& ifname, int ifindex) {
  ifname_ = ifname;
  ifindex_ = ifindex;
  // Protocol 0: a send-only socket. With a protocol it would queue matching inbound frames and
  // keep a pending ENETDOWN after a link flap that fails the first send of the next burst.
  fd_.reset(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd_.valid()) return core::errno_error("socket(AF_PACKET)", errno);
  sockaddr_ll local{};
  local.sll_family = AF_PACKET;
  local.sll_protocol = 0;
  local.sll_ifindex = ifindex;
  if (bind(fd_.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return core::errno_error("bind(AF_PACKET) " + ifname, errno);
  }
  return {};
}

bool FrameSender::send(const core::MacAddress& to, std::uint16_t ethertype,
                       std::span<const std::uint8_t> packet) {
  // A link flap leaves a stale error on the socket; read it away so it does not fail this send.
  int stale_error = 0;
  socklen_t length = sizeof stale_error;
  getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &stale_error, &length);
  sockaddr_ll destination{};
  destination.sll_family = AF_PACKET;
  destination.sll_protocol = htons(ethertype);
  destination.sll_ifindex = ifindex_;
  destination.sll_halen = 6;
  std::memcpy(destination.sll_addr, to.data(), 6);
  if (sendto(fd_.get(), packet.data(), packet.size(), 0,
             reinterpret_cast<const sockaddr*>(&destination), sizeof destination) < 0) {
    error_ = core::errno_error("send on " + ifname_, errno).message;
    return false;
  }
  return true;
}

}  // namespace vipd::net
