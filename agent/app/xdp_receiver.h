// The eBPF receive path: validated, coalesced adverts from the XDP program's ring buffer, the
// kernel's last-heard record per VRID, and the VIP-conflict and port-refusal records.
#pragma once

#include <cstdint>
#include <vector>

#include "app/advert_receiver.h"
#include "bpf/dataplane.h"

namespace vipd::app {

class XdpReceiver final : public AdvertReceiver {
 public:
  XdpReceiver(bpf::Dataplane& dataplane, std::vector<std::uint8_t> vrids)
      : dataplane_(dataplane), vrids_(std::move(vrids)) {}

  std::string name() const override { return "xdp"; }
  std::vector<int> fds() const override { return {dataplane_.event_fd()}; }
  core::Status set_sources(std::span<const core::AcceptedSource> peers) override;
  core::Status set_unicast_window(std::uint8_t vrid, core::Time until) override;
  core::Status set_held_vips(std::span<const core::HeldVip> vips) override;
  void drain(const std::function<void(const node::Received&)>& deliver) override;
  std::optional<node::HeardAdvert> latest(std::uint8_t vrid) override;
  void forget(std::uint8_t vrid) override;
  void set_master(std::uint8_t vrid, bool master) override;
  RejectCounters rejects() const override;
  std::uint64_t accepted() const override;

 private:
  bpf::Dataplane& dataplane_;
  std::vector<std::uint8_t> vrids_;
};

}  // namespace vipd::app
