// What a node asks its shell to do: the I/O commands Node::handle() returns, in the order they
// must be carried out (an advert queued before an address change goes on the wire first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/vip_list.h"
#include "node/timer_id.h"
#include "vipd/core/instance.h"
#include "vipd/core/ip_address.h"
#include "vipd/core/mac_address.h"

namespace vipd::node {

// One advert of `instance` at `priority` to `destination`: the VRRP group, a peer, or the master
// that just won an election against us. With `to_mac` it leaves as one Ethernet frame to that MAC
// whatever its IP destination (first contact with a rival whose address we do not know yet: the
// destination is then the VIP we both hold, which its kernel delivers and ours would keep local).
struct SendAdvert {
  std::size_t instance = 0;
  std::uint8_t priority = 0;
  core::IpAddress destination;
  std::optional<core::MacAddress> to_mac;
};

// RFC 5227 probes of the instance's VIPs (ARP request from 0.0.0.0, NS from ::): whoever else
// holds one answers, and its answer arrives as VipClaimed.
struct ProbeVips {
  std::size_t instance = 0;
};

// The peer table changed: the kernel's (and the raw path's) accepted sources follow Node::peers().
struct PeersChanged {};

// Until `until`, unicast adverts for `vrid` from sources not yet known are accepted: a rival is
// being contacted and its answer must get through.
struct OpenUnicastWindow {
  std::uint8_t vrid = 0;
  core::Time until;
};

struct AddVips {
  std::size_t instance = 0;
};

struct RemoveVips {
  std::size_t instance = 0;
};

// Exactly these VIPs of an instance that holds its VIPs, added or removed without a state change
// (a reload changed its VIP list). AddVips/RemoveVips above stay instance-wide.
struct AddAddresses {
  std::size_t instance = 0;
  std::vector<config::Vip> vips;
};

struct RemoveAddresses {
  std::size_t instance = 0;
  std::vector<config::Vip> vips;
};

// A reload replaced the plan (Node::plan()): the instances at `created` are new (appended, or in
// the slot of one an earlier reload retired) and retired ones are stopped. Comes first in the
// reload's commands, so the shell makes room (timer slots, counters, kernel VRID configuration)
// before any command names a new instance; the node's state is final when it is carried out.
struct PlanReplaced {
  std::vector<std::size_t> created;
};

// A burst of gratuitous ARPs / unsolicited NAs for the instance's VIPs, `repeat` each.
struct Announce {
  std::size_t instance = 0;
  int repeat = 1;
};

// Arms `timer` for `at`; core::kNever disarms it.
struct SetTimer {
  TimerId timer;
  core::Time at;
};

// A transition, for status, metrics and the simulator's checker.
struct StateChanged {
  std::size_t instance = 0;
  core::StateChange change;
};

// keepalived's notify call: `<script> INSTANCE <name> <state> <priority>`.
struct Notify {
  std::size_t instance = 0;
  core::State state = core::State::Initialize;
  std::uint8_t priority = 0;
};

// The kernel saw the monitored port refuse connections: check it now, out of cycle.
struct CheckNow {
  std::uint16_t port = 0;
  std::uint64_t refusals = 0;
};

enum class Level : std::uint8_t { Debug, Info, Warn, Error };
inline constexpr std::size_t kNoInstance = static_cast<std::size_t>(-1);

// One data field of a structured log line ("from": "BACKUP").
struct LogField {
  std::string_view key;
  std::string value;
};

// One log line in keepalived's wording; `event` names the kind, `fields` carry its data for
// structured (JSON) logs.
struct Log {
  Level level = Level::Info;
  std::string_view event;
  std::size_t instance = kNoInstance;
  std::string text;
  std::vector<LogField> fields;
};

using Command = std::variant<SendAdvert, AddVips, RemoveVips, Announce, SetTimer, StateChanged,
                             Notify, CheckNow, Log, ProbeVips, PeersChanged, OpenUnicastWindow,
                             AddAddresses, RemoveAddresses, PlanReplaced>;

}  // namespace vipd::node
