// Raw IPPROTO_VRRP sockets: sending adverts (TTL/hop limit 255, TOS 0xC0, batched with sendmmsg)
// and, when the XDP path is unavailable, receiving them for validation by the codec.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/result.h"
#include "vipd/core/unique_fd.h"

namespace vipd::net {

struct ReceivedPacket {
  core::PacketMeta meta;                  // ttl_exempt is left for the caller to decide
  std::span<const std::uint8_t> message;  // the VRRP message, valid until the next receive
};

class VrrpSocket {
 public:
  // Opens a socket on `ifname` sending from `source` (IPv4 primary or IPv6 link-local) and joins
  // the VRRP group so the NIC's multicast filter admits adverts. With `receive` false a socket
  // filter drops everything inbound (the XDP path receives instead).
  core::Status open(const std::string& ifname, int ifindex, const core::IpAddress& source,
                    bool receive);
  void close();
  int fd() const { return fd_.get(); }

  // Queues one copy of `message` to `destination`; flush() sends everything queued at once.
  void queue(std::span<const std::uint8_t> message, const core::IpAddress& destination);
  // Returns the number of messages the kernel refused (logged by the caller).
  std::size_t flush();

  // Non-blocking: false when nothing (more) is waiting. Malformed IP framing is skipped.
  bool receive(ReceivedPacket& packet);

  std::uint64_t sent() const { return sent_; }
  std::uint64_t send_errors() const { return send_errors_; }
  const std::string& last_error() const { return last_error_; }

 private:
  struct Pending {
    std::array<std::uint8_t, core::kMaxAdvertSize> bytes;
    std::size_t size;
    core::IpAddress destination;
  };

  // What sendmmsg reads for one queued advert; kept between flushes with the headers, so a
  // flush of no more adverts than an earlier one allocates nothing.
  struct SendSlot {
    iovec vector;
    sockaddr_storage address;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> control;
  };

  core::UniqueFd fd_;
  int ifindex_ = 0;
  core::Family family_ = core::Family::V4;
  core::IpAddress source_;
  std::vector<Pending> pending_;
  std::vector<mmsghdr> headers_;
  std::vector<SendSlot> slots_;
  std::vector<std::uint8_t> receive_buffer_ = std::vector<std::uint8_t>(65536);
  std::uint64_t sent_ = 0;
  std::uint64_t send_errors_ = 0;
  std::string last_error_;
};

}  // namespace vipd::net
