// Where validated adverts come from: the XDP ring buffer (kernel-coalesced) or a raw socket.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "vipd/core/advert.h"
#include "vipd/core/instance.h"

namespace vipd::app {

struct HeardAdvert {
  core::Time at;  // CLOCK_MONOTONIC receive time
  std::uint8_t vrid = 0;
  core::RxAdvert advert;
  bool only_if_newer = false;  // a record the kernel replaced: feed it only if not yet seen
};

// Invalid adverts by reason: index = DecodeError number; the last slot counts unknown VRIDs.
using RejectCounters = std::array<std::uint64_t, core::kDecodeErrorCount + 2>;
inline constexpr std::size_t kUnknownVridSlot = core::kDecodeErrorCount + 1;

class AdvertReceiver {
 public:
  virtual ~AdvertReceiver() = default;
  virtual std::string name() const = 0;
  virtual int fd() const = 0;
  // Delivers every advert (or, from XDP, every change) waiting; never blocks.
  virtual void drain(const std::function<void(const HeardAdvert&)>& deliver) = 0;
  // The newest advert for `vrid` the kernel coalesced away; nullopt when every advert is delivered.
  virtual std::optional<HeardAdvert> latest(std::uint8_t vrid) = 0;
  // Drops the coalescing record so the next advert for `vrid` is delivered.
  virtual void forget(std::uint8_t vrid) = 0;
  // While master, every advert for `vrid` is delivered (each one may call for an answer).
  virtual void set_master(std::uint8_t vrid, bool master) = 0;
  virtual RejectCounters rejects() const = 0;
  // The latest rejected packet (reason slot, source) not yet reported, for a rate-limited log line.
  // The XDP path counts rejects in the kernel and has none to report individually.
  virtual std::optional<std::pair<std::size_t, core::IpAddress>> take_last_reject() {
    return std::nullopt;
  }
  virtual std::uint64_t accepted() const = 0;
};

}  // namespace vipd::app
