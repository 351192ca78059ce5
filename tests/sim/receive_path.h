// The daemon's two receive paths as the simulator's world, behind the node's own port
// (node::ReceivePath): `every` hands the node each valid advert, as the raw socket does;
// `coalesced` models the XDP path: the kernel program's per-VRID record (struct vipd_last_adv) and
// its ring buffer. What the agent does with them is the production node's code (agent/node).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/node.h"
#include "node/receive_path.h"
#include "planted_bug.h"
#include "vipd/bpf_abi.h"
#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"
#include "world.h"

namespace vipd::sim {

using core::Time;

enum class ReceivePath : std::uint8_t { Every, Coalesced };
std::string_view to_string(ReceivePath path);
std::optional<ReceivePath> parse_receive_path(std::string_view name);

// The four fixes that made the coalesced path equivalent to the every-advert path
// (docs/SIMULATOR.md, "Receive paths"). The daemon has all four; leaving one out (an ablation)
// shows what it is for. The node's code is never changed for that: an agent-side fix is left out by
// the receive path refusing the node's reads (drain, record, forget) during the inputs that fix is
// about, a kernel-side fix by the kernel model behaving as the kernel did before it. Bits.
enum class CoalescingFix : std::uint8_t {
  // The node drains and feeds the record before every other input to the core (priority, fault,
  // start, stop), and forgets the record after a priority change.
  FlushBeforeInputs = 1 << 0,
  // The node drains and feeds the record when an instance's preempt_delay window closes.
  FlushAtWindowEnd = 1 << 1,
  // The kernel emits every advert of a VRID whose instance is MASTER (set_master switches
  // vipd_vrid_cfg.deliver_all); before it, entering MASTER only cleared the record.
  MasterHearsEvery = 1 << 2,
  // An event that replaces a record carries the replaced record; the node feeds it first when it
  // is newer than what the core was given.
  FeedReplacedRecord = 1 << 3,
};
inline constexpr std::uint8_t kAllCoalescingFixes = 0xF;
std::optional<std::uint8_t> parse_coalescing_fix(std::string_view name);  // a bit, "all", "none"
std::string coalescing_fix_names(std::uint8_t fixes);                     // "a,b" or "none"

// The kernel's cause bit for an unchanged advert emitted because the VRID delivers every advert.
inline constexpr std::uint16_t kCauseDeliverAll = VIPD_CAUSE_DELIVER_ALL;

// An advert as the kernel model keeps it: a ring-buffer event or the record, by VRID slot.
struct RecordedAdvert {
  Time at;
  int slot = 0;
  core::RxAdvert advert;
  bool unicast = false;  // the event's destination was not the group (the record never says)
};

// One ring-buffer record: the event, and the record it replaced.
struct RingEvent {
  RecordedAdvert heard;
  std::optional<RecordedAdvert> replaced;
};

// One machine's XDP program as the world: the kernel's vipd_last_adv records (one per VRID slot)
// and the ring buffer between the kernel and the agent.
class CoalescedReceiver {
 public:
  // `stale_after`: vipd_global_cfg.stale_ns, which the daemon sets to twice its longest interval.
  CoalescedReceiver(int slots, Time stale_after);

  // The XDP program, for an advert that passed validation: either queues an event (and returns its
  // vipd_advert_cause bits) or only refreshes the record's timestamp (and returns 0).
  // `stranger`: a unicast advert from a source not in vipd_peers, always an event
  // (VIPD_CAUSE_STRANGER): the agent learns the sender from it even when it repeats the record.
  std::uint16_t on_valid_advert(Time now, int slot, const core::Advert& advert,
                                const core::IpAddress& source, bool unicast = false,
                                bool stranger = false);

  // The agent's read: events in ring order, then the ring is empty.
  std::vector<RingEvent> drain();
  bool ring_empty() const { return ring_.empty(); }
  std::size_t ring_size() const { return ring_.size(); }
  // The record, when one exists.
  std::optional<RecordedAdvert> latest(int slot) const;
  // The next advert from anyone is an event.
  void forget(int slot) { records_[static_cast<std::size_t>(slot)] = vipd_last_adv{}; }
  // vipd_vrid_cfg.deliver_all.
  void deliver_all(int slot, bool on) { deliver_all_[static_cast<std::size_t>(slot)] = on; }

  // The machine went down: kernel maps and ring buffer are gone.
  void reset();

 private:
  std::uint8_t cause(const vipd_last_adv& record, Time now, const core::Advert& advert,
                     const vipd_addr& source, std::uint16_t addr_sum) const;

  Time stale_after_;
  std::vector<vipd_last_adv> records_;
  std::vector<RingEvent> ring_;
  std::vector<bool> deliver_all_;
};

// Which input the node is handling: some fixes (and one planted bug) act only during some inputs.
enum class InputContext : std::uint8_t {
  Arrival,        // adverts pending (a packet arrived, or the ring buffer woke the agent)
  ProtocolTimer,  // an instance's advert / Master_Down timer
  WindowEnd,      // the end of an instance's preempt_delay window
  OtherTimer,     // gratuitous ARP repeats and refreshes
  Other,          // start, stop, a fault, a priority change
};

// The node's port on one simulated machine: either path, with the ablations and planted bugs that
// act on it. VRIDs are the world's; the node sees VRID numbers, the kernel model VRID slots.
class SimReceivePath final : public node::ReceivePath {
 public:
  SimReceivePath(const World& world, sim::ReceivePath path, std::uint8_t fixes, PlantedBug bug);

  // The node reading through this port (for the planted bugs that judge by its instances' state).
  void attach(const node::Node* node) { node_ = node; }
  void set_context(InputContext context) { context_ = context; }

  // A valid advert for VRID slot `slot` reaches the machine. Returns the kernel's cause bits on the
  // coalesced path (0: only the record was refreshed), VIPD_CAUSE_NEW on the every path; `wake` is
  // set when the agent must be woken for it (no wake-up was pending).
  std::uint16_t arrive(Time now, int slot, const core::Advert& advert,
                       const core::IpAddress& source, bool unicast, bool stranger, bool& wake);
  // The ARP / NA watch reported a claim (coalesced path: into the ring buffer, behind the advert
  // events already there; every path: the claim listener's socket). `wake` as for arrive().
  void claim(const node::VipClaimed& claimed, bool& wake);
  // The machine went down.
  void reset();

  void drain(const std::function<void(const node::Received&)>& deliver) override;
  std::optional<node::HeardAdvert> latest(std::uint8_t vrid) override;
  void forget(std::uint8_t vrid) override;
  void set_master(std::uint8_t vrid, bool master) override;

 private:
  bool fixed(CoalescingFix fix) const { return (fixes_ & static_cast<std::uint8_t>(fix)) != 0; }
  // The node's reads are refused during this input (an ablated fix, or the planted bug).
  bool refused() const;
  std::optional<node::HeardAdvert> handed(const RecordedAdvert& recorded) const;
  int slot_of(std::uint8_t vrid) const;

  const World& world_;
  sim::ReceivePath path_;
  std::uint8_t fixes_;
  PlantedBug bug_;
  const node::Node* node_ = nullptr;
  InputContext context_ = InputContext::Other;
  CoalescedReceiver kernel_;
  std::vector<RecordedAdvert> pending_;  // the every path: adverts not yet handed over
  // Claims not yet read: on the coalesced path in the ring, each behind the first `position` advert
  // events; on the every path in the claim listener's socket.
  struct RingClaim {
    std::size_t position = 0;
    node::VipClaimed claimed;
  };
  std::vector<RingClaim> claims_;
};

}  // namespace vipd::sim
