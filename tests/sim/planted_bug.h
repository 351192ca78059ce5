// Test-only bugs planted at the edges of the production code, so each invariant checker can be
// shown to catch the bug it exists for. The node (agent/node) and the core run unchanged; a bug
// acts where the simulator owns the world: in what the receive path hands the node, in which timer
// expiries reach it, in which of its commands are carried out, in the configuration it is given,
// and in the simulator's own send side.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "node/commands.h"
#include "node/receive_path.h"
#include "vipd/core/instance.h"

namespace vipd::sim {

enum class PlantedBug : std::uint8_t {
  None,
  IgnorePriorityZero,       // receivers drop priority-0 adverts (graceful stop waits a full MDI)
  BackupIgnoresMasterDown,  // a Backup that has heard a master never acts on its timer
  MasterIgnoresHigherPriority,  // a Master drops adverts that should make it step down
  BackupAcceptsLowerPriority,   // a preempting Backup resets its timer on lower-priority adverts
  IgnoreNopreempt,              // instances run with preempt on whatever the configuration says
  NeverRemoveVips,              // RemoveVips is never carried out
  // Acts on the coalesced receive path only: at a timer expiry the receive path gives the node
  // neither the ring buffer nor the kernel record.
  TimerSkipsKernelRecord,
  // A fault of the simulator's send side, not of the protocol: each advert carries the sender's
  // primary address in place of its VRID's last VIP, so what arrives is not what the VRID sends.
  EncodeWrongVip,
  // Split brain (caught in the split-brain scenario). A Master drops the unicast adverts that
  // should make it yield, so the loser of the election over the learned path keeps the VIPs.
  LoserKeepsMaster,
  // The world installs a node's peers in its source filter without the learned ones, so a loser
  // that yielded stops hearing the winner's unicast adverts and takes over again.
  DropLearnedPeers,
};

std::string_view to_string(PlantedBug bug);
std::optional<PlantedBug> parse_planted_bug(std::string_view name);
std::span<const PlantedBug> planted_bugs();  // every bug, without None

// The configuration the node is given for an instance.
core::InstanceConfig mutate_config(core::InstanceConfig config, PlantedBug bug);
// What the receive path hands the node instead of `heard`, judged by the receiving instance as it
// is at that moment; nullopt drops it.
std::optional<node::HeardAdvert> mutate_advert(PlantedBug bug, const core::Instance& receiver,
                                               const node::HeardAdvert& heard);
// Whether the expiry of the instance's protocol timer at `now` is withheld from the node.
bool withholds_timer(PlantedBug bug, const core::Instance& instance, core::Time now);
// Whether the command is never carried out.
bool drops_command(PlantedBug bug, const node::Command& command);
// Whether learned peers are left out of the source filter when PeersChanged is carried out.
bool drops_learned_peers(PlantedBug bug);

}  // namespace vipd::sim
