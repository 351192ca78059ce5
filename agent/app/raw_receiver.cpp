#include "app/raw_receiver.h"

#include <algorithm>

#include "app/event_loop.h"

namespace vipd::app {

void RawSocketReceiver::drain(const std::function<void(const HeardAdvert&)>& deliver) {
  net::ReceivedPacket packet;
  for (int budget = 0; budget < 1024 && socket_.receive(packet); ++budget) {
    packet.meta.ttl_exempt =
        std::find(peers_.begin(), peers_.end(), packet.meta.source) != peers_.end();
    const core::DecodeResult decoded = core::decode_advert(packet.message, packet.meta);
    if (!decoded) {
      ++rejects_[static_cast<std::size_t>(decoded.error())];
      last_reject_ = {static_cast<std::size_t>(decoded.error()), packet.meta.source};
      continue;
    }
    const core::Advert& advert = decoded.advert();
    const auto& expectation = expectations_[advert.vrid];
    if (!expectation) {
      ++rejects_[kUnknownVridSlot];
      continue;  // another router's VRID on this segment: not ours to judge
    }
    if (const core::DecodeError error = core::check_advert(advert, *expectation);
        error != core::DecodeError{}) {
      ++rejects_[static_cast<std::size_t>(error)];
      last_reject_ = {static_cast<std::size_t>(error), packet.meta.source};
      continue;
    }
    ++accepted_;
    deliver(HeardAdvert{monotonic_now(), advert.vrid,
                        core::RxAdvert{packet.meta.source, advert.priority, advert.interval_cs}});
  }
}

std::optional<std::pair<std::size_t, core::IpAddress>> RawSocketReceiver::take_last_reject() {
  return std::exchange(last_reject_, std::nullopt);
}

}  // namespace vipd::app
