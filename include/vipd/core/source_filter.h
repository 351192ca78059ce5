// Who may advertise: the rule of the XDP program's check_source (bpf/vipd_xdp.bpf.c), for the
// raw-socket path and the simulator. Adverts to the VRRP group are accepted from anyone unless the
// sources are restricted; unicast adverts from known peers, from a rival vipd contacting us at a
// VIP we hold, or from anyone while a conflict on the VRID is being healed.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/timing.h"

namespace vipd::core {

struct AcceptedSource {
  IpAddress address;
  bool ttl_exempt = false;  // a configured unicast peer (routed: TTL not checked)
};

struct HeldVip {
  IpAddress address;
  std::uint8_t vrid = 0;
};

class SourceFilter {
 public:
  explicit SourceFilter(bool restricted = false) : restricted_(restricted) {}

  void set_peers(std::span<const AcceptedSource> peers) {
    peers_.assign(peers.begin(), peers.end());
  }
  void set_held_vips(std::span<const HeldVip> vips) { held_.assign(vips.begin(), vips.end()); }
  void set_window(std::uint8_t vrid, Time until) { windows_[vrid] = until; }

  bool ttl_exempt(const IpAddress& source) const;
  // DecodeError{} (accepted) or NotPeer.
  DecodeError check(const PacketMeta& meta, std::uint8_t vrid, Time now) const;

 private:
  const AcceptedSource* find(const IpAddress& source) const;

  bool restricted_;
  std::vector<AcceptedSource> peers_;
  std::vector<HeldVip> held_;
  std::array<Time, 256> windows_{};
};

}  // namespace vipd::core
