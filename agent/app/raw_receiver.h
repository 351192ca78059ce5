// The fallback receive path: a raw IPPROTO_VRRP socket validated by the same codec as XDP, the
// same source rule (core::SourceFilter), and an ARP/NA listener standing in for the kernel's watch.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "app/advert_receiver.h"
#include "net/claim_listener.h"
#include "net/vrrp_socket.h"
#include "vipd/core/source_filter.h"

namespace vipd::app {

class RawSocketReceiver final : public AdvertReceiver {
 public:
  // Per-VRID expectations; `restricted`: adverts to the group too only from accepted sources.
  RawSocketReceiver(net::VrrpSocket& socket, net::ClaimListener& claims,
                    std::array<std::optional<core::Expectation>, 256> expectations, bool restricted,
                    core::MacAddress own_mac)
      : socket_(socket),
        claims_(claims),
        expectations_(std::move(expectations)),
        filter_(restricted),
        own_mac_(own_mac) {}

  std::string name() const override { return "raw-socket"; }
  std::vector<int> fds() const override { return {socket_.fd(), claims_.fd()}; }
  void drain(const std::function<void(const node::Received&)>& deliver) override;
  // Every advert is delivered: there is no record to consult, forget or switch.
  std::optional<node::HeardAdvert> latest(std::uint8_t) override { return std::nullopt; }
  void forget(std::uint8_t) override {}
  void set_master(std::uint8_t, bool) override {}
  core::Status set_sources(std::span<const core::AcceptedSource> peers) override;
  core::Status set_unicast_window(std::uint8_t vrid, core::Time until) override;
  core::Status set_held_vips(std::span<const core::HeldVip> vips) override;
  RejectCounters rejects() const override { return rejects_; }
  std::uint64_t accepted() const override { return accepted_; }
  VridCounters vrid_counters(std::uint8_t vrid) const override { return by_vrid_[vrid]; }
  void set_expectations(
      const std::array<std::optional<core::Expectation>, 256>& expected) override {
    expectations_ = expected;
  }
  std::optional<core::IpAddress> last_reject_source(core::DecodeError reason) const override {
    return last_source_[static_cast<std::size_t>(reason)];
  }

 private:
  // The kernel watch's rate limit (struct vipd_vip_state), per held VIP.
  struct ClaimLimit {
    core::HeldVip vip;
    core::Time window_start{0};
    int window_events = 0;
    core::MacAddress last_mac{};
    core::Time last_event{0};
  };

  void drain_adverts(const std::function<void(const node::Received&)>& deliver);
  void drain_claims(const std::function<void(const node::Received&)>& deliver);
  bool claim_allowed(ClaimLimit& limit, const core::MacAddress& mac, core::Time now);
  void reject(core::DecodeError reason, const core::IpAddress& source,
              std::optional<std::uint8_t> vrid = std::nullopt);

  net::VrrpSocket& socket_;
  net::ClaimListener& claims_;
  std::array<std::optional<core::Expectation>, 256> expectations_;
  core::SourceFilter filter_;
  core::MacAddress own_mac_;
  std::vector<ClaimLimit> held_;
  RejectCounters rejects_{};
  std::uint64_t accepted_ = 0;
  std::array<VridCounters, 256> by_vrid_{};
  std::array<std::optional<core::IpAddress>, core::kRejectReasonSlots> last_source_{};
};

}  // namespace vipd::app
