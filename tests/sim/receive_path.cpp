#include "receive_path.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "vipd/core/checksum.h"

namespace vipd::sim {
namespace {

vipd_addr to_kernel_address(const core::IpAddress& address) {
  vipd_addr out{};
  out.family = address.is_v4() ? 4 : 6;
  std::memcpy(out.addr, address.data(), address.size());
  return out;
}

core::IpAddress from_kernel_address(std::uint8_t family, const std::uint8_t* bytes) {
  return core::IpAddress::from_bytes(family == 6 ? core::Family::V6 : core::Family::V4, bytes);
}

std::uint64_t to_ns(Time t) {
  return static_cast<std::uint64_t>(t.count());
}

}  // namespace

std::string_view to_string(ReceivePath path) {
  return path == sim::ReceivePath::Every ? "every" : "coalesced";
}

std::optional<ReceivePath> parse_receive_path(std::string_view name) {
  if (name == "every") return sim::ReceivePath::Every;
  if (name == "coalesced") return sim::ReceivePath::Coalesced;
  return std::nullopt;
}

namespace {

struct FixName {
  CoalescingFix fix;
  std::string_view name;
};
constexpr std::array<FixName, 4> kFixNames = {{
    {CoalescingFix::FlushBeforeInputs, "flush-before-inputs"},
    {CoalescingFix::FlushAtWindowEnd, "flush-at-window-end"},
    {CoalescingFix::MasterHearsEvery, "master-hears-every"},
    {CoalescingFix::FeedReplacedRecord, "feed-replaced-record"},
}};

}  // namespace

std::optional<std::uint8_t> parse_coalescing_fix(std::string_view name) {
  if (name == "none") return std::uint8_t{0};
  if (name == "all") return kAllCoalescingFixes;
  for (const FixName& entry : kFixNames) {
    if (entry.name == name) return static_cast<std::uint8_t>(entry.fix);
  }
  return std::nullopt;
}

std::string coalescing_fix_names(std::uint8_t fixes) {
  std::string names;
  for (const FixName& entry : kFixNames) {
    if ((fixes & static_cast<std::uint8_t>(entry.fix)) == 0) continue;
    if (!names.empty()) names += ",";
    names += entry.name;
  }
  return names.empty() ? "none" : names;
}

CoalescedReceiver::CoalescedReceiver(int slots, Time stale_after)
    : stale_after_(stale_after),
      records_(static_cast<std::size_t>(slots)),
      deliver_all_(static_cast<std::size_t>(slots), false) {}

// bpf/vipd_xdp.bpf.c coalesce_cause(), field for field.
std::uint8_t CoalescedReceiver::cause(const vipd_last_adv& record, Time now,
                                      const core::Advert& advert, const vipd_addr& source,
                                      std::uint16_t addr_sum) const {
  std::uint8_t bits = advert.priority == core::kStopPriority ? VIPD_CAUSE_PRIORITY_ZERO : 0;
  if (!record.valid) return static_cast<std::uint8_t>(bits | VIPD_CAUSE_NEW);
  if (record.family != source.family || std::memcmp(record.src, source.addr, sizeof(record.src))) {
    bits |= VIPD_CAUSE_SOURCE;
  }
  if (record.priority != advert.priority) bits |= VIPD_CAUSE_PRIORITY;
  if (record.interval_cs != advert.interval_cs) bits |= VIPD_CAUSE_INTERVAL;
  if (record.version != static_cast<std::uint8_t>(advert.version)) bits |= VIPD_CAUSE_VERSION;
  if (record.addr_sum != addr_sum) bits |= VIPD_CAUSE_ADDRESSES;
  if (stale_after_ > Time{0} && to_ns(now) - record.rx_ns > to_ns(stale_after_)) {
    bits |= VIPD_CAUSE_STALE;
  }
  return bits;
}

// bpf/vipd_xdp.bpf.c coalesce(). The simulated ring buffer never fills.
std::uint16_t CoalescedReceiver::on_valid_advert(Time now, int slot, const core::Advert& advert,
                                                 const core::IpAddress& source, bool unicast,
                                                 bool stranger) {
  vipd_last_adv& record = records_[static_cast<std::size_t>(slot)];
  const vipd_addr kernel_source = to_kernel_address(source);
  const auto addr_sum = static_cast<std::uint16_t>(core::checksum_add(0, advert.address_bytes));
  std::uint16_t bits = cause(record, now, advert, kernel_source, addr_sum);
  if (unicast && stranger) bits |= VIPD_CAUSE_STRANGER;
  if (bits == 0 && deliver_all_[static_cast<std::size_t>(slot)]) bits = kCauseDeliverAll;
  if (bits == 0) {
    record.rx_ns = to_ns(now);
    return 0;
  }
  ring_.push_back(RingEvent{
      RecordedAdvert{now, slot, core::RxAdvert{source, advert.priority, advert.interval_cs},
                     unicast},
      latest(slot)});
  record.rx_ns = to_ns(now);
  std::memcpy(record.src, kernel_source.addr, sizeof(record.src));
  record.family = kernel_source.family;
  record.version = static_cast<std::uint8_t>(advert.version);
  record.priority = advert.priority;
  record.interval_cs = advert.interval_cs;
  record.addr_sum = addr_sum;
  record.valid = 1;
  return bits;
}

std::vector<RingEvent> CoalescedReceiver::drain() {
  std::vector<RingEvent> events;
  events.swap(ring_);
  return events;
}

std::optional<RecordedAdvert> CoalescedReceiver::latest(int slot) const {
  const vipd_last_adv& record = records_[static_cast<std::size_t>(slot)];
  if (record.valid == 0) return std::nullopt;
  return RecordedAdvert{Time(static_cast<std::int64_t>(record.rx_ns)), slot,
                        core::RxAdvert{from_kernel_address(record.family, record.src),
                                       record.priority, record.interval_cs}};
}

void CoalescedReceiver::reset() {
  std::fill(records_.begin(), records_.end(), vipd_last_adv{});
  std::fill(deliver_all_.begin(), deliver_all_.end(), false);
  ring_.clear();
}

// vipd_global_cfg.stale_ns: the daemon sets twice its longest interval, which is the world's
// longest (every node runs every VRID).
SimReceivePath::SimReceivePath(const World& world, sim::ReceivePath path, std::uint8_t fixes,
                               PlantedBug bug)
    : world_(world),
      path_(path),
      fixes_(path == sim::ReceivePath::Coalesced ? fixes : kAllCoalescingFixes),
      bug_(bug),
      kernel_(world.vrid_count(), 2 * world.unit) {}

std::uint16_t SimReceivePath::arrive(Time now, int slot, const core::Advert& advert,
                                     const core::IpAddress& source, bool unicast, bool stranger,
                                     bool& wake) {
  if (path_ == sim::ReceivePath::Every) {
    wake = pending_.empty() && claims_.empty();
    pending_.push_back(RecordedAdvert{
        now, slot, core::RxAdvert{source, advert.priority, advert.interval_cs}, unicast});
    return VIPD_CAUSE_NEW;
  }
  const bool pending = !kernel_.ring_empty() || !claims_.empty();
  const std::uint16_t cause = kernel_.on_valid_advert(now, slot, advert, source, unicast, stranger);
  wake = cause != 0 && !pending;
  return cause;
}

void SimReceivePath::claim(const node::VipClaimed& claimed, bool& wake) {
  wake = kernel_.ring_empty() && claims_.empty() && pending_.empty();
  claims_.push_back(RingClaim{kernel_.ring_size(), claimed});
}

void SimReceivePath::reset() {
  kernel_.reset();
  pending_.clear();
  claims_.clear();
}

bool SimReceivePath::refused() const {
  switch (context_) {
    case InputContext::ProtocolTimer:
      return bug_ == PlantedBug::TimerSkipsKernelRecord && path_ == sim::ReceivePath::Coalesced;
    case InputContext::WindowEnd:
      return !fixed(CoalescingFix::FlushAtWindowEnd);
    case InputContext::Other:
      return !fixed(CoalescingFix::FlushBeforeInputs);
    case InputContext::Arrival:
    case InputContext::OtherTimer:
      return false;
  }
  return false;
}

int SimReceivePath::slot_of(std::uint8_t vrid) const {
  for (int v = 0; v < world_.vrid_count(); ++v) {
    if (world_.vrids[static_cast<std::size_t>(v)].vrid == vrid) return v;
  }
  return -1;
}

std::optional<node::HeardAdvert> SimReceivePath::handed(const RecordedAdvert& recorded) const {
  const node::HeardAdvert heard{recorded.at,
                                world_.vrids[static_cast<std::size_t>(recorded.slot)].vrid,
                                recorded.advert, recorded.unicast};
  if (bug_ == PlantedBug::None || node_ == nullptr) return heard;
  return mutate_advert(bug_, node_->instance(static_cast<std::size_t>(recorded.slot)).core, heard);
}

void SimReceivePath::drain(const std::function<void(const node::Received&)>& deliver) {
  if (refused()) return;
  if (path_ == sim::ReceivePath::Every) {
    std::vector<RecordedAdvert> adverts;
    adverts.swap(pending_);
    for (const RecordedAdvert& recorded : adverts) {
      // Judged one at a time: the bugs look at the instance as the previous advert left it.
      if (const auto heard = handed(recorded)) deliver(node::AdvertEvent{*heard, std::nullopt});
    }
    // RawSocketReceiver::drain reads the claim listener after the advert socket.
    std::vector<RingClaim> claims;
    claims.swap(claims_);
    for (const RingClaim& claim : claims) deliver(claim.claimed);
    return;
  }
  std::vector<RingClaim> claims;
  claims.swap(claims_);
  auto claim = claims.begin();
  std::size_t position = 0;
  for (const RingEvent& event : kernel_.drain()) {
    for (; claim != claims.end() && claim->position <= position; ++claim) deliver(claim->claimed);
    ++position;
    const auto heard = handed(event.heard);
    if (!heard) continue;  // a planted bug drops the event, and the record it replaced with it
    std::optional<node::HeardAdvert> replaced;
    if (event.replaced && fixed(CoalescingFix::FeedReplacedRecord))
      replaced = handed(*event.replaced);
    deliver(node::AdvertEvent{*heard, replaced});
  }
  for (; claim != claims.end(); ++claim) deliver(claim->claimed);
}

std::optional<node::HeardAdvert> SimReceivePath::latest(std::uint8_t vrid) {
  if (path_ == sim::ReceivePath::Every || refused()) return std::nullopt;
  const int slot = slot_of(vrid);
  if (slot < 0) return std::nullopt;
  const auto recorded = kernel_.latest(slot);
  if (!recorded) return std::nullopt;
  return handed(*recorded);
}

void SimReceivePath::forget(std::uint8_t vrid) {
  if (path_ == sim::ReceivePath::Every || refused()) return;
  if (const int slot = slot_of(vrid); slot >= 0) kernel_.forget(slot);
}

void SimReceivePath::set_master(std::uint8_t vrid, bool master) {
  if (path_ == sim::ReceivePath::Every) return;
  const int slot = slot_of(vrid);
  if (slot < 0) return;
  if (fixed(CoalescingFix::MasterHearsEvery)) {
    kernel_.deliver_all(slot, master);
  } else if (master) {
    kernel_.forget(slot);  // before the fix: entering MASTER cleared the record, nothing more
  }
}

}  // namespace vipd::sim
