#include "app/raw_receiver.h"

#include <algorithm>

#include "loop/event_loop.h"

namespace vipd::app {

void RawSocketReceiver::drain(const std::function<void(const node::Received&)>& deliver) {
  net::ReceivedPacket packet;
  for (int budget = 0; budget < 1024 && socket_.receive(packet); ++budget) {
    packet.meta.ttl_exempt =
        std::find(peers_.begin(), peers_.end(), packet.meta.source) != peers_.end();
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
    ++accepted_;
    VridCounters& counters = by_vrid_[advert.vrid];
    ++counters.valid;
    if (advert.priority == 0) ++counters.priority_zero;
    deliver(node::AdvertEvent{
        node::HeardAdvert{loop::monotonic_now(), advert.vrid,
                          core::RxAdvert{packet.meta.source, advert.priority, advert.interval_cs}},
        std::nullopt});
  }
}

void RawSocketReceiver::reject(core::DecodeError reason, const core::IpAddress& source,
                               std::optional<std::uint8_t> vrid) {
  ++rejects_[static_cast<std::size_t>(reason)];
  if (vrid) ++by_vrid_[*vrid].rejects[static_cast<std::size_t>(reason)];
  last_reject_ = {reason, source};
}

std::optional<std::pair<core::DecodeError, core::IpAddress>> RawSocketReceiver::take_last_reject() {
  return std::exchange(last_reject_, std::nullopt);
}

}  // namespace vipd::app
