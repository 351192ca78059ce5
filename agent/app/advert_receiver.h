// The daemon's two receive paths: the XDP ring buffer (kernel-coalesced) or a raw socket. Both are
// the node's ReceivePath, plus what the shell itself needs (a descriptor to poll, counters).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "node/receive_path.h"
#include "vipd/core/advert.h"

namespace vipd::app {

// Rejected packets by reason (index: core::DecodeError; slot 0 unused).
using RejectCounters = std::array<std::uint64_t, core::kRejectReasonSlots>;

class AdvertReceiver : public node::ReceivePath {
 public:
  virtual std::string name() const = 0;
  virtual int fd() const = 0;
  virtual RejectCounters rejects() const = 0;
  // The source of the latest packet rejected for `reason`, for the log. The XDP path counts
  // rejects in the kernel and does not know it.
  virtual std::optional<core::IpAddress> last_reject_source(core::DecodeError) const {
    return std::nullopt;
  }
  virtual std::uint64_t accepted() const = 0;
};

}  // namespace vipd::app
