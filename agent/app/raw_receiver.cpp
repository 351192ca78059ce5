#include "app/raw_receiver.h"

#include <algorithm>

#include "loop/event_loop.h"
#include "vipd/bpf_abi.h"

namespace vipd::app {
namespace {

constexpr core::Time kClaimInterval = std::chrono::nanoseconds(VIPD_CONFLICT_EVENT_INTERVAL_NS);

}  // namespace

void RawSocketReceiver::drain(const std::function<void(const node::Received&)>& deliver) {
  drain_adverts(deliver);
  drain_claims(deliver);
}

void RawSocketReceiver::drain_adverts(const std::function<void(const node::Received&)>& deliver) {
  net::ReceivedPacket packet;
  for (int budget = 0; budget < 1024 && socket_.receive(packet); ++budget) {
    packet.meta.ttl_exempt = filter_.ttl_exempt(packet.meta.source);
    const core::DecodeResult decoded = core::decode_advert(packet.message, packet.meta);
    if (!decoded) {
      reject(decoded.error(), packet.meta.source);
      continue;
    }
    const core::Advert& advert = decoded.advert();
    const auto& expectation = expectations_[advert.vrid];
    if (!expectation) {
      // Another router's VRID on this segment: counted, not ours to judge or to log.
      ++rejects_[static_cast<std::size_t>(core::DecodeError::UnknownVrid)];
      continue;
    }
    if (const core::DecodeError error = core::check_advert(advert, *expectation);
        error != core::DecodeError{}) {
      reject(error, packet.meta.source, advert.vrid);
      continue;
    }
    const core::Time now = loop::monotonic_now();
    if (const core::DecodeError error = filter_.check(packet.meta, advert.vrid, now);
        error != core::DecodeError{}) {
      reject(error, packet.meta.source);
      continue;
    }
    ++accepted_;
    VridCounters& counters = by_vrid_[advert.vrid];
    ++counters.valid;
    if (advert.priority == 0) ++counters.priority_zero;
    const bool unicast =
        packet.meta.destination != core::vrrp_group(packet.meta.destination.family());
    deliver(node::AdvertEvent{
        node::HeardAdvert{now, advert.vrid,
                          core::RxAdvert{packet.meta.source, advert.priority, advert.interval_cs},
                          unicast},
        std::nullopt});
  }
}

void RawSocketReceiver::drain_claims(const std::function<void(const node::Received&)>& deliver) {
  net::Claim claim;
  for (int budget = 0; budget < 1024 && claims_.receive(claim); ++budget) {
    if (claim.mac == own_mac_) continue;
    const auto held = std::find_if(held_.begin(), held_.end(), [&](const ClaimLimit& limit) {
      return limit.vip.address == claim.address;
    });
    if (held == held_.end() || !claim_allowed(*held, claim.mac, loop::monotonic_now())) continue;
    deliver(node::VipClaimed{claim.address, held->vip.vrid, claim.mac});
  }
}

bool RawSocketReceiver::claim_allowed(ClaimLimit& limit, const core::MacAddress& mac,
                                      core::Time now) {
  if (limit.last_event != core::Time{0} && now - limit.last_event < kClaimInterval &&
      limit.last_mac == mac) {
    return false;
  }
  if (limit.window_start == core::Time{0} || now - limit.window_start >= kClaimInterval) {
    limit.window_start = now;
    limit.window_events = 0;
  }
  if (limit.window_events >= VIPD_CONFLICT_EVENTS_PER_INTERVAL) return false;
  ++limit.window_events;
  limit.last_mac = mac;
  limit.last_event = now;
  return true;
}

core::Status RawSocketReceiver::set_sources(std::span<const core::AcceptedSource> peers) {
  filter_.set_peers(peers);
  return {};
}

core::Status RawSocketReceiver::set_unicast_window(std::uint8_t vrid, core::Time until) {
  filter_.set_window(vrid, until);
  return {};
}

core::Status RawSocketReceiver::set_held_vips(std::span<const core::HeldVip> vips) {
  filter_.set_held_vips(vips);
  std::vector<ClaimLimit> held;
  std::vector<core::IpAddress> addresses;
  for (const core::HeldVip& vip : vips) {
    // A VIP that stays keeps its rate limit.
    const auto known = std::find_if(held_.begin(), held_.end(), [&](const ClaimLimit& limit) {
      return limit.vip.address == vip.address;
    });
    held.push_back(known != held_.end() ? *known : ClaimLimit{vip});
    held.back().vip = vip;
    addresses.push_back(vip.address);
  }
  held_ = std::move(held);
  return claims_.watch(addresses);
}

void RawSocketReceiver::reject(core::DecodeError reason, const core::IpAddress& source,
                               std::optional<std::uint8_t> vrid) {
  ++rejects_[static_cast<std::size_t>(reason)];
  if (vrid) ++by_vrid_[*vrid].rejects[static_cast<std::size_t>(reason)];
  last_source_[static_cast<std::size_t>(reason)] = source;
}

}  // namespace vipd::app
