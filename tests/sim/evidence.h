// Split-brain evidence in the simulated world: each machine's MAC, and the kernel's ARP /
// neighbour-advert watch (bpf/vipd_xdp.bpf.c report_conflict, and the raw-socket path's
// RawSocketReceiver::drain_claims), which turns a frame claiming a VIP the machine holds, from a
// MAC not its own, into node::VipClaimed within the kernel's rate limit. Which frames exist
// (gratuitous ARP for Announce, RFC 5227 probes for ProbeVips, the answers of every other holder)
// is the simulator's; what the node makes of a claim is the node's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "node/receive_path.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"
#include "vipd/core/source_filter.h"
#include "vipd/core/timing.h"

namespace vipd::sim {

using core::Time;

// 02:00:5e:00:01:n: locally administered, one per machine.
core::MacAddress machine_mac(int n);
// The machine whose MAC this is; nullopt for any other MAC.
std::optional<int> machine_of_mac(const core::MacAddress& mac, int machines);

// The frames that carry evidence of who holds a VIP.
enum class EvidenceKind : std::uint8_t {
  Announcement,  // gratuitous ARP / unsolicited NA of a holder (node::Announce)
  ProbeRequest,  // RFC 5227 probe: ARP request from 0.0.0.0, NS from :: (node::ProbeVips)
  ProbeReply,    // the answer of a machine holding the probed VIP, from its MAC, to the prober
};
std::string_view to_string(EvidenceKind kind);

// The kernel's per-VIP limit (conflict_event_allowed): the same MAC at most once per interval, and
// at most VIPD_CONFLICT_EVENTS_PER_INTERVAL events per VIP and interval.
struct ClaimLimit {
  core::HeldVip vip;
  Time last_event{0};
  core::MacAddress last_mac{};
  Time window_start{0};
  int window_events = 0;
};

// One machine's ARP / NA watch: the VIPs it holds (vipd_vips) with their limits.
class ClaimWatch {
 public:
  explicit ClaimWatch(core::MacAddress own) : own_(own) {}

  // The held VIPs changed (AddVips / RemoveVips carried out); a VIP that stays keeps its limit.
  void set_held(std::span<const core::HeldVip> vips);
  // A frame from `mac` claims `vip`: a VipClaimed for the node, or nullopt (not held, our own MAC,
  // or over the limit).
  std::optional<node::VipClaimed> observe(Time now, const core::IpAddress& vip,
                                          const core::MacAddress& mac);
  bool holds(const core::IpAddress& vip) const;
  // Frames the limit swallowed (the kernel still counts them).
  std::uint64_t limited() const { return limited_; }
  void reset() { held_.clear(); }

 private:
  core::MacAddress own_;
  std::vector<ClaimLimit> held_;
  std::uint64_t limited_ = 0;
};

}  // namespace vipd::sim
