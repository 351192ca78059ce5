// vipd-sim: a deterministic multi-node VRRP simulation. The real protocol core (core::Instance) and
// the real codec run over a virtual L2 segment in virtual time; a seed fully determines the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checker.h"
#include "planted_bug.h"

namespace vipd::sim {

struct RunOptions {
  std::uint64_t seed = 1;
  std::optional<int> nodes;  // 2..7; unset: the seed picks
  PlantedBug bug = PlantedBug::None;
  bool record_trace = false;  // keep the event trace as text (the hash is computed either way)
};

struct RunResult {
  std::uint64_t seed = 0;
  int nodes = 0;
  std::vector<Violation> violations;
  std::uint64_t trace_hash = 0;  // over every event and action: equal hashes, equal runs
  std::uint64_t events = 0;
  Time virtual_time{0};
  CheckStats stats;
  std::string trace;  // configuration and event trace, when record_trace
};

RunResult run_seed(const RunOptions& options);

// The command line that replays one seed, with its trace.
std::string replay_command(const RunOptions& options, int nodes);
// One line: seed, nodes, invariant, virtual time, details and the replay command.
std::string format_violation(const RunOptions& options, const RunResult& result,
                             const Violation& violation);

}  // namespace vipd::sim
