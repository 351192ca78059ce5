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
      reject(error, packet.meta.source);
      continue;
    }
    ++accepted_;
    deliver(node::AdvertEvent{
        node::HeardAdvert{loop::monotonic_now(), advert.vrid,
                          core::RxAdvert{packet.meta.source, advert.priority, advert.interval_cs}},
        std::nullopt});
  }
}

void RawSocketReceiver::reject(core::DecodeError reason, const core::IpAddress& source) {
  ++rejects_[static_cast<std::size_t>(reason)];
  last_source_[static_cast<std::size_t>(reason)] = source;
}

}  // namespace vipd::app
