// The node's port to the receive path: where validated adverts (and the kernel's other records)
// come from. The daemon implements it with the XDP ring buffer and maps or a raw socket, the
// simulator with its model of the kernel program; the node only reads through it and flips the
// kernel's two per-VRID switches, so what the simulator proves is what the daemon runs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <variant>

#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"

namespace vipd::node {

// An advert that passed every check, as the core is given it.
struct HeardAdvert {
  core::Time at;  // CLOCK_MONOTONIC receive time (the kernel's bpf_ktime_get_ns on the XDP path)
  std::uint8_t vrid = 0;
  core::RxAdvert advert;
  bool unicast = false;  // sent to one of our addresses, not to the VRRP group
};

// One advert event. On the XDP path it also carries the coalescing record it replaced: adverts
// coalesced into that record may be newer than any the core was given, and they count first.
struct AdvertEvent {
  HeardAdvert heard;
  std::optional<HeardAdvert> replaced;
};

// An ARP packet or neighbour advert for one of the VIPs we hold, from a MAC not ours: the kernel's
// watch (XDP) or the raw-socket path's listener saw a second owner, or a probe answer from one.
struct VipClaimed {
  core::IpAddress vip;
  std::uint8_t vrid = 0;
  core::MacAddress mac{};
};

// The kernel saw the monitored port refuse connections (RST in answer to a SYN).
struct PortRefused {
  std::uint16_t port = 0;
  std::uint64_t refusals = 0;
};

using Received = std::variant<AdvertEvent, VipClaimed, PortRefused>;

class ReceivePath {
 public:
  virtual ~ReceivePath() = default;
  // Delivers every record waiting, in arrival order; never blocks.
  virtual void drain(const std::function<void(const Received&)>& deliver) = 0;
  // The newest advert for `vrid` that the kernel coalesced instead of delivering; nullopt when
  // every advert is delivered (raw socket) or none was heard.
  virtual std::optional<HeardAdvert> latest(std::uint8_t vrid) = 0;
  // Drops the coalescing record, so the next advert for `vrid` from anyone is delivered.
  virtual void forget(std::uint8_t vrid) = 0;
  // While master, every advert for `vrid` is delivered: each one may call for an answer.
  virtual void set_master(std::uint8_t vrid, bool master) = 0;
};

}  // namespace vipd::node
