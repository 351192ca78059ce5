// The fallback receive path: a raw IPPROTO_VRRP socket validated by the same codec as XDP.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "app/advert_receiver.h"
#include "net/vrrp_socket.h"

namespace vipd::app {

class RawSocketReceiver final : public AdvertReceiver {
 public:
  // Per-VRID expectations; `peers` are TTL-exempt (unicast mode).
  RawSocketReceiver(net::VrrpSocket& socket,
                    std::array<std::optional<core::Expectation>, 256> expectations,
                    std::vector<core::IpAddress> peers)
      : socket_(socket), expectations_(std::move(expectations)), peers_(std::move(peers)) {}

  std::string name() const override { return "raw-socket"; }
  int fd() const override { return socket_.fd(); }
  void drain(const std::function<void(const node::Received&)>& deliver) override;
  // Every advert is delivered: there is no record to consult, forget or switch.
  std::optional<node::HeardAdvert> latest(std::uint8_t) override { return std::nullopt; }
  void forget(std::uint8_t) override {}
  void set_master(std::uint8_t, bool) override {}
  RejectCounters rejects() const override { return rejects_; }
  std::uint64_t accepted() const override { return accepted_; }
  std::optional<core::IpAddress> last_reject_source(core::DecodeError reason) const override {
    return last_source_[static_cast<std::size_t>(reason)];
  }

 private:
  void reject(core::DecodeError reason, const core::IpAddress& source);

  net::VrrpSocket& socket_;
  std::array<std::optional<core::Expectation>, 256> expectations_;
  std::vector<core::IpAddress> peers_;
  RejectCounters rejects_{};
  std::uint64_t accepted_ = 0;
  std::array<std::optional<core::IpAddress>, core::kRejectReasonSlots> last_source_{};
};

}  // namespace vipd::app
