#include "app/xdp_receiver.h"

#include <spdlog/spdlog.h>

namespace vipd::app {
namespace {

core::IpAddress to_address(std::uint8_t family, const std::uint8_t* bytes) {
  return core::IpAddress::from_bytes(family == 6 ? core::Family::V6 : core::Family::V4, bytes);
}

core::Time to_time(std::uint64_t ns) {
  return core::Time(static_cast<std::int64_t>(ns));
}

node::AdvertEvent to_advert_event(const vipd_advert_event& event) {
  node::AdvertEvent out;
  const core::IpAddress destination = to_address(event.family, event.dst);
  out.heard = {
      to_time(event.hdr.ts_ns), event.vrid,
      core::RxAdvert{to_address(event.family, event.src), event.priority, event.interval_cs},
      destination != core::vrrp_group(destination.family())};
  if (event.prev_valid != 0) {
    out.replaced = node::HeardAdvert{to_time(event.prev_rx_ns), event.vrid,
                                     core::RxAdvert{to_address(event.prev_family, event.prev_src),
                                                    event.prev_priority, event.prev_interval_cs}};
  }
  return out;
}

}  // namespace

void XdpReceiver::drain(const std::function<void(const node::Received&)>& deliver) {
  dataplane_.consume([&](const bpf::Event& event) {
    if (const auto* advert = std::get_if<vipd_advert_event>(&event)) {
      deliver(to_advert_event(*advert));
    } else if (const auto* conflict = std::get_if<vipd_conflict_event>(&event)) {
      const auto family = conflict->family == 6 ? core::Family::V6 : core::Family::V4;
      node::VipClaimed claimed{core::IpAddress::from_bytes(family, conflict->ip),
                               static_cast<std::uint8_t>(conflict->vrid),
                               {}};
      std::copy(std::begin(conflict->mac), std::end(conflict->mac), claimed.mac.begin());
      deliver(claimed);
    } else if (const auto* port = std::get_if<vipd_port_event>(&event)) {
      deliver(node::PortRefused{port->port, port->rst_tx});
    }
  });
}

std::optional<node::HeardAdvert> XdpReceiver::latest(std::uint8_t vrid) {
  const auto record = dataplane_.last_advert(vrid);
  if (!record) return std::nullopt;
  return node::HeardAdvert{to_time(record->rx_ns), vrid,
                           core::RxAdvert{to_address(record->family, record->src), record->priority,
                                          record->interval_cs}};
}

void XdpReceiver::forget(std::uint8_t vrid) {
  if (core::Status status = dataplane_.forget_last_advert(vrid); !status) {
    spdlog::warn("VRID {}: {}", vrid, status.message());
  }
}

void XdpReceiver::set_master(std::uint8_t vrid, bool master) {
  if (core::Status status = dataplane_.set_deliver_all(vrid, master); !status) {
    spdlog::warn("VRID {}: cannot switch the kernel's deliver-all mode: {}", vrid,
                 status.message());
  }
}

core::Status XdpReceiver::set_sources(std::span<const core::AcceptedSource> peers) {
  std::vector<bpf::Peer> kernel;
  for (const core::AcceptedSource& peer : peers) kernel.push_back({peer.address, peer.ttl_exempt});
  return dataplane_.set_peers(kernel);
}

core::Status XdpReceiver::set_unicast_window(std::uint8_t vrid, core::Time until) {
  return dataplane_.set_unicast_window(vrid, until);
}

core::Status XdpReceiver::set_held_vips(std::span<const core::HeldVip> vips) {
  std::vector<bpf::Vip> kernel;
  for (const core::HeldVip& vip : vips) kernel.push_back({vip.address, vip.vrid});
  return dataplane_.set_vips(kernel);
}

RejectCounters XdpReceiver::rejects() const {
  RejectCounters counters{};
  auto add = [&](std::uint8_t vrid) {
    const auto stats = dataplane_.vrid_stats(vrid);
    if (!stats) return;
    for (std::size_t reason = 1; reason < counters.size(); ++reason) {
      counters[reason] += stats.value().rx_invalid[reason];
    }
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
