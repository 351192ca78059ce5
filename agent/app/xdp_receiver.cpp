#include "app/xdp_receiver.h"

#include <spdlog/spdlog.h>

namespace vipd::app {
namespace {

core::IpAddress to_address(std::uint8_t family, const std::uint8_t* bytes) {
  return core::IpAddress::from_bytes(family == 6 ? core::Family::V6 : core::Family::V4, bytes);
}

}  // namespace

void XdpReceiver::drain(const std::function<void(const HeardAdvert&)>& deliver) {
  dataplane_.consume([&](const bpf::Event& event) {
    if (const auto* advert = std::get_if<vipd_advert_event>(&event)) {
      // The record this advert replaced may hold adverts newer than any we were given (they were
      // coalesced into it): they count first, or a backup would time out one interval early.
      if (advert->prev_valid != 0) {
        deliver(HeardAdvert{core::Time(static_cast<std::int64_t>(advert->prev_rx_ns)), advert->vrid,
                            core::RxAdvert{to_address(advert->prev_family, advert->prev_src),
                                           advert->prev_priority, advert->prev_interval_cs},
                            true});
      }
      deliver(HeardAdvert{core::Time(static_cast<std::int64_t>(advert->hdr.ts_ns)), advert->vrid,
                          core::RxAdvert{to_address(advert->family, advert->src), advert->priority,
                                         advert->interval_cs}});
    } else if (const auto* conflict = std::get_if<vipd_conflict_event>(&event)) {
      if (on_conflict_) on_conflict_(*conflict);
    } else if (const auto* port = std::get_if<vipd_port_event>(&event)) {
      if (on_port_) on_port_(*port);
    }
  });
}

std::optional<HeardAdvert> XdpReceiver::latest(std::uint8_t vrid) {
  const auto record = dataplane_.last_advert(vrid);
  if (!record || record->valid == 0) return std::nullopt;
  return HeardAdvert{core::Time(static_cast<std::int64_t>(record->rx_ns)), vrid,
                     core::RxAdvert{to_address(record->family, record->src), record->priority,
                                    record->interval_cs}};
}

void XdpReceiver::forget(std::uint8_t vrid) {
  if (bpf::Status status = dataplane_.forget_last_advert(vrid); !status) {
    spdlog::warn("VRID {}: {}", vrid, status.message());
  }
}

void XdpReceiver::set_master(std::uint8_t vrid, bool master) {
  if (bpf::Status status = dataplane_.set_deliver_all(vrid, master); !status) {
    spdlog::warn("VRID {}: cannot switch the kernel's deliver-all mode: {}", vrid,
                 status.message());
  }
}

RejectCounters XdpReceiver::rejects() const {
  RejectCounters counters{};
  auto add = [&](std::uint8_t vrid) {
    const auto stats = dataplane_.vrid_stats(vrid);
    if (!stats) return;
    const vipd_vrid_stat& s = stats.value();
    counters[static_cast<std::size_t>(core::DecodeError::BadTtl)] += s.rx_bad_ttl;
    counters[static_cast<std::size_t>(core::DecodeError::BadChecksum)] += s.rx_bad_checksum;
    counters[static_cast<std::size_t>(core::DecodeError::CountMismatch)] += s.rx_bad_len;
    counters[static_cast<std::size_t>(core::DecodeError::BadVersion)] += s.rx_bad_version;
    counters[static_cast<std::size_t>(core::DecodeError::BadType)] += s.rx_bad_type;
    counters[static_cast<std::size_t>(core::DecodeError::AuthMismatch)] += s.rx_bad_auth;
    counters[static_cast<std::size_t>(core::DecodeError::IntervalMismatch)] += s.rx_bad_interval;
    counters[static_cast<std::size_t>(core::DecodeError::FamilyMismatch)] += s.rx_bad_family;
    counters[kUnknownVridSlot] += s.rx_unknown_vrid;
  };
  add(0);
  for (const std::uint8_t vrid : vrids_) add(vrid);
  return counters;
}

std::uint64_t XdpReceiver::accepted() const {
  std::uint64_t total = 0;
  for (const std::uint8_t vrid : vrids_) {
    if (const auto stats = dataplane_.vrid_stats(vrid)) total += stats.value().rx_valid;
  }
  return total;
}

}  // namespace vipd::app
