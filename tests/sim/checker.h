// The invariants of docs/SIMULATOR.md, checked after every batch of simultaneous events.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster.h"

namespace vipd::sim {

enum class Invariant : std::uint8_t {
  Convergence = 1,  // 1: exactly one Master per VRID once quiet long enough
  Liveness,         // 2: a crashed Master is replaced within MDI + max delay
  Preemption,       // 3a: no preempting healthy Backup outranks the converged Master
  // 3b: in a strictly nopreempt VRID nothing replaces the converged Master. Apart from 3a so that
  // each is reported on its own (once per invariant and VRID) and each planted bug shows the
  // check meant for it.
  NopreemptIncumbent,
  GracefulStop,  // 4: a stopped Master is replaced within Skew_Time + max delay
  SingleHolder,  // 5: two connected nodes never both hold the VIPs longer than one MDI
  // 6: split brain healed: while multicast is blocked, after the heal deadline (invariant 1's
  // deadline plus the heal allowance), no two masters holding the VIPs reach each other by unicast.
  SplitBrain,
  // 7: no transition storm: once a VRID is due to have converged (invariant 1's deadline, with the
  // heal allowance while multicast is blocked), each node makes 0 transitions into or out of
  // MASTER until the next disturbance.
  TransitionStorm,
  Harness,  // the simulator itself: configuration, codec round trip, event budget
};
std::string_view to_string(Invariant invariant);

struct Violation {
  Invariant invariant;
  Time at;
  std::uint8_t vrid;
  std::string details;
};

// How much each invariant was actually exercised: a check that never ran proves nothing.
struct CheckStats {
  std::uint64_t convergence_samples = 0;
  std::uint64_t preemption_samples = 0;  // converged samples with a preempting healthy backup
  std::uint64_t nopreempt_samples = 0;   // samples of an incumbent nopreempt master
  std::uint64_t liveness_checks = 0;     // crash obligations resolved (met or violated)
  std::uint64_t graceful_stop_checks = 0;
  std::uint64_t dual_holder_windows = 0;  // times two connected nodes both held the VIPs
  Time longest_dual_holding{0};
  double worst_dual_holding_ratio = 0.0;  // longest dual holding over invariant 5's bound
  // Time to a new master over the allowed bound, for the obligations met: how tight 2 and 4 are.
  double worst_liveness_ratio = 0.0;
  double worst_graceful_stop_ratio = 0.0;
  double worst_settle_ratio = 0.0;  // last master change after a disturbance / invariant 1 bound
  // While multicast is blocked (split brain): convergence samples, and the last master change
  // after the block or the last disturbance over the bound with the heal allowance.
  std::uint64_t blocked_convergence_samples = 0;
  std::uint64_t storm_samples = 0;        // convergence samples that checked no change came late
  std::uint64_t split_brain_samples = 0;  // samples of invariant 6 (blocked, past the deadline)
  double worst_heal_ratio = 0.0;

  void merge(const CheckStats& other);
};

class Checker {
 public:
  using Wake = std::function<void(Time)>;
  Checker(const Cluster& cluster, Wake wake);

  // Something the scenario did. `node` is -1 for the network; `slot` -1 for every VRID of the node.
  void note_network_change(Time now);
  // Multicast between some nodes is blocked (or unblocked): a disturbance, and while the block
  // lasts invariants 1 and 5 allow `heal_allowance` more (the split-brain healing's time to find
  // the rival: probe interval x 1.25 + 2 s in docs/SPLIT_BRAIN.md's bound).
  void note_multicast_block(Time now, bool blocked, Time heal_allowance);
  void note_node_event(Time now, int node, int slot);
  void note_priority_change(Time now, int node, int slot);
  // Invariants 2 and 4: a healthy Master must exist in `slot` by `deadline`.
  void expect_master(Time now, Invariant invariant, int slot, Time deadline, std::string what);
  void note_harness_failure(Time now, int slot, std::string details);
  // A node entered or left Master: how much of invariant 1's bound elections really take.
  void note_master_change(Time now, int slot) { last_master_change_[slot] = now; }

  // After the scenario acted at `now`: plans the wake-ups at which convergence becomes due.
  void after_action(Time now);
  // After all events at `now` were handled.
  void after_batch(Time now);
  void finish(Time now);

  // Invariant 1's deadline for `slot`: quiet since the later of the last disturbance and the end
  // of every healthy preempting node's preempt_delay window, plus max MDI + 2 * max delay.
  Time convergence_due(int slot) const;
  // Invariant 5's bound for a dual holding that began at `since`.
  Time dual_holding_bound(int slot, Time since) const;
  const std::vector<Violation>& violations() const { return violations_; }
  const CheckStats& stats() const { return stats_; }

 private:
  struct Obligation {
    Invariant invariant;
    int slot;
    Time since;
    Time deadline;
    std::string what;
  };

  // Each invariant is reported once per VRID and seed; checks skip building the text after that.
  bool reported(Invariant invariant, int slot) const {
    return reported_.contains({invariant, slot});
  }
  void report(Invariant invariant, int slot, Time at, std::string details);
  void check_obligations(Time now);
  void check_convergence(Time now, int slot);
  void check_incumbent(Time now, int slot);
  void check_holders(Time now, int slot);
  void check_split_brain(Time now, int slot);
  bool holders_connected(int a, int b, int slot) const;
  std::string node_list(const std::vector<int>& nodes) const;

  const Cluster& cluster_;
  Wake wake_;
  Time last_disturbance_{0};
  bool blocked_ = false;
  Time last_block_change_{-1};
  Time heal_allowance_{0};
  std::vector<Obligation> obligations_;
  std::vector<Time> last_master_change_;
  // Invariant 3b: per slot, the converged Master of a strictly-nopreempt VRID.
  std::vector<std::optional<int>> incumbent_;
  // Invariant 5: per slot, per node pair (a < b), since when both hold while connected.
  std::vector<std::vector<std::vector<std::optional<Time>>>> dual_since_;
  std::set<std::pair<Invariant, int>> reported_;
  std::vector<Violation> violations_;
  CheckStats stats_;
};

}  // namespace vipd::sim
