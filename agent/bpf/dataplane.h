// The eBPF data plane as the daemon sees it: loads the XDP advert program and the tc port-probe
// programs, fills their configuration maps, attaches them to one interface (and tc to lo), pins the
// maps for bpftool, and hands the ring-buffer events and counters back to the event loop.
//
// Ownership on the node, so that a restart never leaves two copies attached and never harms what
// others attached:
//   XDP  one program per interface. An attached program named vipd_xdp* is ours (a previous run,
//        possibly killed) and is replaced atomically; anything else is refused with an error.
//   tc   our filters live at a fixed handle and priority (kTcHandle, kTcPriority) on the clsact
//        hooks, so a restart replaces them in place. Other filters are never touched; the clsact
//        qdisc is removed on detach only if vipd created it and no other filter remains.
//   pins <bpffs>/vipd/<ifname, "." as ":">/<map or program name>, mode 0600; a dead run's pins
//        are unlinked and re-pinned. Its program pins first let a restart without CAP_SYS_ADMIN
//        (which reaching a program by id needs) recognise and replace what it left attached. If the
//        bpffs root is not a bpffs (as under `ip netns exec`, which remounts /sys), one is mounted
//        there; if that fails the data plane runs without pins and says so.
//
// Not thread-safe: one event loop owns it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "bpf/tc_attach.h"
#include "bpf/xdp_attach.h"
#include "vipd/bpf_abi.h"
#include "vipd/core/advert.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"
#include "vipd/core/result.h"
#include "vipd/core/timing.h"

namespace vipd::bpf {

struct Options {
  std::string interface;  // where XDP and tc attach
  XdpMode xdp_mode = XdpMode::Auto;
  bool attach_xdp = true;
  bool attach_tc = true;
  bool tc_on_loopback = true;  // local probes to the node's own address go over lo
  bool pin_maps = true;
  std::string bpffs_root = "/sys/fs/bpf";  // pins go to <bpffs_root>/vipd/<interface>
  bool mount_bpffs = true;                 // mount a bpffs at bpffs_root when there is none
};

struct GlobalConfig {
  std::chrono::nanoseconds stale{0};  // re-emit an unchanged advert after this long; 0: never
  bool drop_invalid = false;
  bool restrict_sources = false;  // adverts to the group too must come from known peers
};

// A known peer: its unicast adverts are accepted. Configured unicast peers are TTL-exempt.
struct Peer {
  core::IpAddress address;
  bool ttl_exempt = false;
};

struct VridConfig {
  std::uint8_t vrid = 0;
  core::VrrpVersion version = core::VrrpVersion::V3;
  core::Family family = core::Family::V4;
  core::AuthType auth_type = core::AuthType::None;  // v2 only
  std::uint8_t v2_interval_s = 0;                   // v2 only; 0: unchecked
  core::AuthKey auth_key{};
  bool deliver_all = false;  // every valid advert is an event (set while the instance is MASTER)
};

struct Vip {
  core::IpAddress address;
  std::uint8_t vrid = 0;
};

// One decoded ring-buffer record.
using Event = std::variant<vipd_advert_event, vipd_conflict_event, vipd_port_event>;
using EventHandler = std::function<void(const Event&)>;

// What attach() did, for logs and `vipd status`.
struct AttachState {
  bool xdp_attached = false;
  XdpMode xdp_mode = XdpMode::Auto;  // Native or Generic once attached
  std::uint32_t xdp_prog_id = 0;
  bool replaced_stale_xdp = false;  // a previous run's program was still attached
  bool tc_attached = false;
  std::uint32_t tc_ingress_prog_id = 0;
  std::uint32_t tc_egress_prog_id = 0;
  // Every interface with our tc filters (the VRRP interface, and lo), for the state file.
  std::vector<TcFilters> tc_filters;
  bool pinned = false;
  std::string pin_dir;   // when pinned
  std::string pin_note;  // why there are no pins, when not pinned
};

class Dataplane {
 public:
  // Fixed tc filter identity: a restart finds and replaces exactly these. The programs return
  // TC_ACT_UNSPEC, so filters at later priorities still run.
  static constexpr std::uint32_t kTcHandle = 0x56495044;  // "VIPD"
  static constexpr std::uint16_t kTcPriority = 0x5650;

  // Opens and loads both programs into the kernel; attaches nothing yet.
  static core::Result<std::unique_ptr<Dataplane>> open(const Options& options);

  // Clean stop: detach() and unpin.
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // Attaches XDP and tc and pins the maps. On failure, whatever this call attached is removed.
  core::Status attach();
  // Removes our XDP program, our tc filters (and a clsact qdisc we created) and our pins.
  void detach();

  const AttachState& state() const { return state_; }
  const Options& options() const { return options_; }

  // Configuration maps. Set-valued calls replace the whole set.
  core::Status set_global_config(const GlobalConfig& config);
  core::Status set_vrid_config(const VridConfig& config);
  core::Status clear_vrid_config(std::uint8_t vrid);
  // Flips only vipd_vrid_cfg.deliver_all of a configured VRID (read-modify-write of its entry).
  core::Status set_deliver_all(std::uint8_t vrid, bool on);
  // Replaces the known peers (vipd_peers).
  core::Status set_peers(std::span<const Peer> peers);
  // Until `until` (CLOCK_MONOTONIC), unicast adverts for `vrid` from sources that are not peers
  // are accepted: a conflict is being healed and the rival is not known yet. kNever-like values
  // are not special; Time{0} closes it.
  core::Status set_unicast_window(std::uint8_t vrid, core::Time until);
  // Only the difference to the previous call touches the map (a takeover of 255 instances calls
  // this once per instance); the first call, or the one after a failed update, replaces the set.
  core::Status set_vips(std::span<const Vip> vips);
  core::Status set_own_macs(std::span<const core::MacAddress> macs);
  // Counters and refusal rate limits of ports that stay monitored are kept.
  core::Status set_monitored_ports(std::span<const std::uint16_t> ports);

  // For epoll: readable when either ring buffer has records.
  int event_fd() const;
  // Delivers every pending record to `handler`; returns how many were delivered.
  core::Result<int> consume(const EventHandler& handler);
  // consume() calls that delivered at least one record.
  std::uint64_t wakeups() const { return wakeups_; }

  // The XDP program's coalescing record for `vrid`, if it saw a valid advert.
  std::optional<vipd_last_adv> last_advert(std::uint8_t vrid) const;
  // Drops the coalescing record so the next valid advert for `vrid` is an event.
  core::Status forget_last_advert(std::uint8_t vrid);
  // Per-CPU counters summed over all CPUs. vrid 0 holds adverts for unknown VRIDs.
  core::Result<vipd_vrid_stat> vrid_stats(std::uint8_t vrid) const;
  core::Result<vipd_port_stat> port_stats(std::uint16_t port) const;

  // Map file descriptor by map name (the names are unique across both objects), or -1. For tests
  // and bpftool-like inspection.
  int map_fd(std::string_view name) const;

 private:
  // The test seam (tests/bpf): only tests may abandon a data plane, as a SIGKILL would.
  friend class DataplaneTestAccess;
  // Forgets the attachments and pins without removing them.
  void abandon();
  struct Skeletons;
  // One interface carrying our tc filters: the VRRP interface, and lo.
  struct TcTarget {
    int ifindex = 0;
    std::string ifname;
    bool owns_clsact = false;  // vipd created the qdisc (this run, or a previous one per marker)
    std::uint32_t ingress_prog_id = 0;
    std::uint32_t egress_prog_id = 0;
  };

  Dataplane(Options options, std::unique_ptr<Skeletons> skeletons);
  core::Status create_ring_buffer();
  core::Status attach_xdp(const PinnedPrograms& previous);
  core::Status attach_tc_to(TcTarget& target, const PinnedPrograms& previous);
  void detach_tc_from(TcTarget& target);
  void prepare_pin_dir();
  std::string clsact_marker(const std::string& ifname) const;
  void pin_objects();
  void unpin_maps();
  static int on_record(void* context, void* data, std::size_t size);

  Options options_;
  std::unique_ptr<Skeletons> skel_;
  AttachState state_;
  int ifindex_ = 0;
  std::vector<TcTarget> tc_targets_;
  std::string pin_dir_;  // empty: no pins
  std::uint64_t wakeups_ = 0;
  const EventHandler* handler_ = nullptr;  // set during consume()
  int delivered_ = 0;
  std::optional<std::map<core::IpAddress, std::uint8_t>> installed_vips_;  // address -> VRID
};

}  // namespace vipd::bpf
