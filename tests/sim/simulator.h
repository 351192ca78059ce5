// vipd-sim: a deterministic multi-node VRRP simulation. The real protocol core (core::Instance) and
// the real codec run over a virtual L2 segment in virtual time; a seed fully determines the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checker.h"
#include "planted_bug.h"
#include "receive_path.h"

namespace vipd::sim {

// Which scenario a seed runs: the one it draws (a few percent split brain), or one forced.
enum class Scenario : std::uint8_t { Auto, Normal, SplitBrain };
std::string_view to_string(Scenario scenario);
std::optional<Scenario> parse_scenario(std::string_view name);

struct RunOptions {
  std::uint64_t seed = 1;
  std::optional<int> nodes;  // 2..7; unset: the seed picks
  PlantedBug bug = PlantedBug::None;
  ReceivePath receive_path = ReceivePath::Every;
  // CoalescingFix bits; the coalesced path only. Default: the daemon with all four fixes.
  std::uint8_t coalescing_fixes = kAllCoalescingFixes;
  bool record_trace = false;  // keep the event trace as text (the hash is computed either way)
  Scenario scenario = Scenario::Auto;
};

// One StateChange action of one instance: what the two receive paths must agree on.
struct StateChangeRecord {
  Time at;
  int node = 0;
  std::uint8_t vrid = 0;
  core::State from = core::State::Initialize;
  core::State to = core::State::Initialize;
  core::StateReason reason = core::StateReason::Startup;
  friend bool operator==(const StateChangeRecord&, const StateChangeRecord&) = default;
};
std::string describe(const StateChangeRecord& change);

// How much advert work each receive path gave the core.
struct ReceiveStats {
  std::uint64_t adverts_sent = 0;
  std::uint64_t arrivals = 0;  // valid adverts reaching a running node: every path's calls
  // Of those, the ones addressed to a VIP (parting adverts): they reach whoever holds it the
  // instant they are sent, which depends on how each path orders same-instant events.
  std::uint64_t vip_arrivals = 0;
  std::uint64_t advert_calls = 0;   // Instance::on_advert calls actually made
  std::uint64_t kernel_events = 0;  // coalesced: ring-buffer events
  std::uint64_t record_feeds = 0;   // coalesced: records fed (timer expiry, or a fix)
  // The same counts restricted to the quiet phases (no scenario action but the probe).
  std::uint64_t quiet_arrivals = 0;
  std::uint64_t quiet_advert_calls = 0;

  void merge(const ReceiveStats& other);
};

// What the split-brain machinery did in the world.
struct SplitBrainStats {
  std::uint64_t split_brain_seeds = 0;
  std::uint64_t evidence_frames = 0;   // gratuitous ARPs, probes and answers sent
  std::uint64_t claims = 0;            // VipClaimed given to nodes (after the kernel's limit)
  std::uint64_t contacts = 0;          // adverts sent to a rival's MAC
  std::uint64_t unicast_adverts = 0;   // adverts accepted that were not sent to the group
  std::uint64_t not_peer_rejects = 0;  // adverts the source filter dropped

  void merge(const SplitBrainStats& other);
};

struct RunResult {
  std::uint64_t seed = 0;
  int nodes = 0;
  std::vector<Violation> violations;
  std::uint64_t trace_hash = 0;  // over every event and action: equal hashes, equal runs
  std::uint64_t events = 0;
  Time virtual_time{0};
  CheckStats stats;
  ReceiveStats receive;
  SplitBrainStats split_brain;
  std::vector<StateChangeRecord> state_changes;
  std::string trace;  // configuration and event trace, when record_trace
};

RunResult run_seed(const RunOptions& options);

// The first place two runs of one seed differ in their state changes; nullopt when identical.
std::optional<std::string> state_change_difference(const RunResult& a, const RunResult& b);

// The command line that replays one seed, with its trace.
std::string replay_command(const RunOptions& options, int nodes);
// One line: seed, nodes, invariant, virtual time, details and the replay command.
std::string format_violation(const RunOptions& options, const RunResult& result,
                             const Violation& violation);

}  // namespace vipd::sim
