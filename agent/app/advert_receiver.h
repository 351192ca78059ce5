// The daemon's two receive paths: the XDP ring buffer (kernel-coalesced) or a raw socket. Both are
// the node's ReceivePath, plus what the shell itself needs (a descriptor to poll, counters).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "node/receive_path.h"
#include "vipd/core/advert.h"
#include "vipd/core/result.h"
#include "vipd/core/source_filter.h"

namespace vipd::app {

// Rejected packets by reason (index: core::DecodeError; slot 0 unused).
using RejectCounters = std::array<std::uint64_t, core::kRejectReasonSlots>;

// One VRID's counters, for keepalived's per-instance statistics.
struct VridCounters {
  std::uint64_t valid = 0;          // adverts that passed every check
  std::uint64_t priority_zero = 0;  // of those delivered, the ones with priority 0
  RejectCounters rejects{};         // rejected after the VRID was known
};

class AdvertReceiver : public node::ReceivePath {
 public:
  virtual std::string name() const = 0;
  // Descriptors to poll: readable means drain() has records.
  virtual std::vector<int> fds() const = 0;
  // Whose adverts are accepted (see core::SourceFilter): the known peers, and per VRID a window in
  // which a rival not known yet may answer by unicast.
  virtual core::Status set_sources(std::span<const core::AcceptedSource> peers) = 0;
  virtual core::Status set_unicast_window(std::uint8_t vrid, core::Time until) = 0;
  // The VIPs we hold: watched for a second owner (ARP/NA), and where a rival vipd's first contact
  // is addressed.
  virtual core::Status set_held_vips(std::span<const core::HeldVip> vips) = 0;
  virtual RejectCounters rejects() const = 0;
  // The source of the latest packet rejected for `reason`, for the log. The XDP path counts
  // rejects in the kernel and does not know it.
  virtual std::optional<core::IpAddress> last_reject_source(core::DecodeError) const {
    return std::nullopt;
  }
  virtual std::uint64_t accepted() const = 0;
  virtual VridCounters vrid_counters(std::uint8_t vrid) const = 0;
  // The VRIDs served now, with what their adverts must look like (a reload changed them). The
  // accepted sources follow the node's peer table (set_sources, on PeersChanged).
  virtual void set_expectations(
      const std::array<std::optional<core::Expectation>, 256>& expected) = 0;
};

}  // namespace vipd::app
