// The daemon's two receive paths, as the simulator runs them. `every` feeds each valid advert to
// the core, as the raw-socket path does. `coalesced` models the XDP path: the kernel program's
// per-VRID record (struct vipd_last_adv), its ring buffer, and what the agent does with both
// (agent/app/daemon.cpp: on_instance_timer, on_advert, on_state_change;
// agent/app/xdp_receiver.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vipd/bpf_abi.h"
#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"

namespace vipd::sim {

using core::Time;

enum class ReceivePath : std::uint8_t { Every, Coalesced };
std::string_view to_string(ReceivePath path);
std::optional<ReceivePath> parse_receive_path(std::string_view name);

// Changes to the daemon's coalesced path that docs/SIMULATOR.md ("Receive paths") describes. The
// kernel side (deliver_all, the replaced record in each event) is in bpf/vipd_xdp.bpf.c; the
// coalesced path models the daemon with all four by default (kAllCoalescingFixes), and the daemon
// before them with "none". Bits.
enum class CoalescingFix : std::uint8_t {
  // Drain and feed the record before every other input to the core (set_priority, raise_fault,
  // clear_fault, start, stop), and forget the record after a priority change.
  FlushBeforeInputs = 1 << 0,
  // Drain and feed the record when an instance's preempt_delay window closes.
  FlushAtWindowEnd = 1 << 1,
  // The kernel emits every advert of a VRID whose instance is MASTER (a switch the agent sets on
  // entering MASTER and clears on leaving it), instead of only the first after forgetting.
  MasterHearsEvery = 1 << 2,
  // An event that replaces a record carries the replaced record's rx_ns; the agent feeds the
  // replaced advert at that time first when it is newer than last_fed (the agent knows its content:
  // it is the previous event for that VRID).
  FeedReplacedRecord = 1 << 3,
  // The minimal repair of the split brain in docs/SIMULATOR.md: feed the record at every timer
  // expiry, not only a Backup's (the daemon's behaviour before it restricted this to backups).
  // Not part of "all": master-hears-every covers it.
  FeedRecordToMasters = 1 << 4,
};
inline constexpr std::uint8_t kAllCoalescingFixes = 0xF;
std::optional<std::uint8_t> parse_coalescing_fix(std::string_view name);  // a bit, "all", "none"
std::string coalescing_fix_names(std::uint8_t fixes);                     // "a,b" or "none"

// The kernel's cause bit for an unchanged advert emitted because the VRID delivers every advert.
inline constexpr std::uint16_t kCauseDeliverAll = VIPD_CAUSE_DELIVER_ALL;

// What the agent hands to Instance::on_advert: a ring-buffer event or the kernel record.
struct HeardAdvert {
  Time at;
  int slot = 0;
  core::RxAdvert advert;
};

// One ring-buffer record: the event, and the record it replaced
// (CoalescingFix::FeedReplacedRecord).
struct RingEvent {
  HeardAdvert heard;
  std::optional<HeardAdvert> replaced;
};

// One node's XDP receive path: the kernel's vipd_last_adv records (one per VRID slot), the ring
// buffer between the kernel and the agent, and the agent's `last_fed` per slot.
class CoalescedReceiver {
 public:
  // `stale_after`: vipd_global_cfg.stale_ns, which the daemon sets to twice its longest interval.
  CoalescedReceiver(int slots, Time stale_after);

  // The XDP program, for an advert that passed validation: either queues an event (and returns its
  // vipd_advert_cause bits) or only refreshes the record's timestamp (and returns 0).
  std::uint16_t on_valid_advert(Time now, int slot, const core::Advert& advert,
                                const core::IpAddress& source);

  // The agent: events in ring order, then the ring is empty.
  std::vector<RingEvent> drain();
  bool ring_empty() const { return ring_.empty(); }
  // XdpReceiver::latest: the record, when one exists.
  std::optional<HeardAdvert> latest(int slot) const;
  // XdpReceiver::forget: the next advert from anyone is an event.
  void forget(int slot) { records_[static_cast<std::size_t>(slot)] = vipd_last_adv{}; }
  // CoalescingFix::MasterHearsEvery's switch.
  void deliver_all(int slot, bool on) { deliver_all_[static_cast<std::size_t>(slot)] = on; }
  // Runtime::last_fed: the newest advert time given to that slot's instance.
  Time last_fed(int slot) const { return last_fed_[static_cast<std::size_t>(slot)]; }
  void note_fed(int slot, Time at);

  // The machine went down: kernel maps, ring buffer and agent state are gone.
  void reset();

 private:
  std::uint8_t cause(const vipd_last_adv& record, Time now, const core::Advert& advert,
                     const vipd_addr& source, std::uint16_t addr_sum) const;

  Time stale_after_;
  std::vector<vipd_last_adv> records_;
  std::vector<RingEvent> ring_;
  std::vector<Time> last_fed_;
  std::vector<bool> deliver_all_;
};

}  // namespace vipd::sim
