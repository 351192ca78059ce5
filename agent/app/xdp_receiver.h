// The eBPF receive path: validated, coalesced adverts from the XDP program's ring buffer, plus the
// kernel's last-heard record that the Master_Down timer consults before failing over.
#pragma once

#include <functional>

#include "app/advert_receiver.h"
#include "bpf/dataplane.h"

namespace vipd::app {

class XdpReceiver final : public AdvertReceiver {
 public:
  using ConflictHandler = std::function<void(const vipd_conflict_event&)>;
  using PortHandler = std::function<void(const vipd_port_event&)>;

  XdpReceiver(bpf::Dataplane& dataplane, std::vector<std::uint8_t> vrids,
              ConflictHandler on_conflict, PortHandler on_port)
      : dataplane_(dataplane),
        vrids_(std::move(vrids)),
        on_conflict_(std::move(on_conflict)),
        on_port_(std::move(on_port)) {}

  std::string name() const override { return "xdp"; }
  int fd() const override { return dataplane_.event_fd(); }
  void drain(const std::function<void(const HeardAdvert&)>& deliver) override;
  std::optional<HeardAdvert> latest(std::uint8_t vrid) override;
  void forget(std::uint8_t vrid) override;
  void set_master(std::uint8_t vrid, bool master) override;
  RejectCounters rejects() const override;
  std::uint64_t accepted() const override;

 private:
  bpf::Dataplane& dataplane_;
  std::vector<std::uint8_t> vrids_;
  ConflictHandler on_conflict_;
  PortHandler on_port_;
};

}  // namespace vipd::app
