#include "evidence.h"

#include <algorithm>

#include "vipd/bpf_abi.h"

namespace vipd::sim {
namespace {

constexpr Time kClaimInterval{static_cast<std::int64_t>(VIPD_CONFLICT_EVENT_INTERVAL_NS)};

}  // namespace

core::MacAddress machine_mac(int n) {
  return {0x02, 0x00, 0x5e, 0x00, 0x01, static_cast<std::uint8_t>(n)};
}

std::optional<int> machine_of_mac(const core::MacAddress& mac, int machines) {
  for (int n = 0; n < machines; ++n) {
    if (machine_mac(n) == mac) return n;
  }
  return std::nullopt;
}

std::string_view to_string(EvidenceKind kind) {
  switch (kind) {
    case EvidenceKind::Announcement:
      return "gratuitous ARP";
    case EvidenceKind::ProbeRequest:
      return "probe";
    case EvidenceKind::ProbeReply:
      return "probe answer";
  }
  return "?";
}

void ClaimWatch::set_held(std::span<const core::HeldVip> vips) {
  std::vector<ClaimLimit> held;
  for (const core::HeldVip& vip : vips) {
    const auto known = std::find_if(held_.begin(), held_.end(), [&](const ClaimLimit& limit) {
      return limit.vip.address == vip.address;
    });
    held.push_back(known != held_.end() ? *known : ClaimLimit{vip});
    held.back().vip = vip;
  }
  held_ = std::move(held);
}

bool ClaimWatch::holds(const core::IpAddress& vip) const {
  return std::any_of(held_.begin(), held_.end(),
                     [&](const ClaimLimit& limit) { return limit.vip.address == vip; });
}

// bpf/vipd_xdp.bpf.c report_conflict() and conflict_event_allowed(), field for field.
std::optional<node::VipClaimed> ClaimWatch::observe(Time now, const core::IpAddress& vip,
                                                    const core::MacAddress& mac) {
  const auto limit = std::find_if(held_.begin(), held_.end(),
                                  [&](const ClaimLimit& held) { return held.vip.address == vip; });
  if (limit == held_.end() || mac == own_) return std::nullopt;
  if (limit->last_event != Time{0} && now - limit->last_event < kClaimInterval &&
      limit->last_mac == mac) {
    ++limited_;
    return std::nullopt;
  }
  if (limit->window_start == Time{0} || now - limit->window_start >= kClaimInterval) {
    limit->window_start = now;
    limit->window_events = 0;
  }
  if (limit->window_events >= static_cast<int>(VIPD_CONFLICT_EVENTS_PER_INTERVAL)) {
    ++limited_;
    return std::nullopt;
  }
  ++limit->window_events;
  limit->last_event = now;
  limit->last_mac = mac;
  return node::VipClaimed{vip, limit->vip.vrid, mac};
}

}  // namespace vipd::sim
