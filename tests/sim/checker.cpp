#include "checker.h"

#include <algorithm>

namespace vipd::sim {

std::string_view to_string(Invariant invariant) {
  switch (invariant) {
    case Invariant::Convergence:
      return "convergence";
    case Invariant::Liveness:
      return "liveness";
    case Invariant::Preemption:
      return "preemption";
    case Invariant::NopreemptIncumbent:
      return "nopreempt-incumbent";
    case Invariant::GracefulStop:
      return "graceful-stop";
    case Invariant::SingleHolder:
      return "single-holder";
    case Invariant::SplitBrain:
      return "split-brain";
    case Invariant::TransitionStorm:
      return "transition-storm";
    case Invariant::Harness:
      return "harness";
  }
  return "?";
}

void CheckStats::merge(const CheckStats& other) {
  convergence_samples += other.convergence_samples;
  preemption_samples += other.preemption_samples;
  nopreempt_samples += other.nopreempt_samples;
  liveness_checks += other.liveness_checks;
  graceful_stop_checks += other.graceful_stop_checks;
  dual_holder_windows += other.dual_holder_windows;
  longest_dual_holding = std::max(longest_dual_holding, other.longest_dual_holding);
  worst_dual_holding_ratio = std::max(worst_dual_holding_ratio, other.worst_dual_holding_ratio);
  worst_liveness_ratio = std::max(worst_liveness_ratio, other.worst_liveness_ratio);
  worst_graceful_stop_ratio = std::max(worst_graceful_stop_ratio, other.worst_graceful_stop_ratio);
  worst_settle_ratio = std::max(worst_settle_ratio, other.worst_settle_ratio);
  blocked_convergence_samples += other.blocked_convergence_samples;
  storm_samples += other.storm_samples;
  split_brain_samples += other.split_brain_samples;
  worst_heal_ratio = std::max(worst_heal_ratio, other.worst_heal_ratio);
}

Checker::Checker(const Cluster& cluster, Wake wake) : cluster_(cluster), wake_(std::move(wake)) {
  const auto slots = static_cast<std::size_t>(cluster.world().vrid_count());
  const auto nodes = static_cast<std::size_t>(cluster.world().node_count());
  incumbent_.resize(slots);
  last_master_change_.resize(slots);
  dual_since_.assign(slots, std::vector<std::vector<std::optional<Time>>>(
                                nodes, std::vector<std::optional<Time>>(nodes)));
}

void Checker::note_network_change(Time now) {
  last_disturbance_ = now;
  std::fill(incumbent_.begin(), incumbent_.end(), std::nullopt);
}

void Checker::note_multicast_block(Time now, bool blocked, Time heal_allowance) {
  blocked_ = blocked;
  last_block_change_ = now;
  heal_allowance_ = heal_allowance;
  note_network_change(now);
}

void Checker::note_node_event(Time now, int node, int slot) {
  last_disturbance_ = now;
  for (int v = 0; v < cluster_.world().vrid_count(); ++v) {
    if ((slot < 0 || slot == v) && incumbent_[v] == node) incumbent_[v].reset();
  }
}

void Checker::note_priority_change(Time now, int node, int slot) {
  // The incumbent nopreempt Master stays: nobody preempts it whatever the priorities. The dual
  // holding window restarts: a priority flip mid-resolution makes the other side answer again.
  last_disturbance_ = now;
  check_holders(now, slot);
  for (int other = 0; other < cluster_.world().node_count(); ++other) {
    auto& since = dual_since_[slot][std::min(node, other)][std::max(node, other)];
    if (other != node && since) since = now;
  }
}

void Checker::expect_master(Time now, Invariant invariant, int slot, Time deadline,
                            std::string what) {
  obligations_.push_back({invariant, slot, now, deadline, std::move(what)});
  wake_(deadline);
}

void Checker::note_harness_failure(Time now, int slot, std::string details) {
  report(Invariant::Harness, slot, now, std::move(details));
}

Time Checker::convergence_due(int slot) const {
  Time quiet_since = last_disturbance_;
  for (int n = 0; n < cluster_.world().node_count(); ++n) {
    const core::InstanceConfig& config = cluster_.config(n, slot);
    if (!cluster_.healthy(n, slot) || !config.preempt) continue;
    quiet_since =
        std::max(quiet_since, cluster_.slot(n, slot).service_since + config.preempt_delay);
  }
  return quiet_since + cluster_.max_master_down_interval(slot) + 2 * cluster_.world().max_delay +
         (blocked_ ? heal_allowance_ : Time{0});
}

Time Checker::dual_holding_bound(int slot, Time since) const {
  const bool block_seen = blocked_ || last_block_change_ >= since;
  return cluster_.max_master_down_interval(slot) + (block_seen ? heal_allowance_ : Time{0});
}

void Checker::after_action(Time now) {
  for (int v = 0; v < cluster_.world().vrid_count(); ++v) {
    const Time due = convergence_due(v);
    if (due > now) wake_(due);
  }
  after_batch(now);
}

void Checker::after_batch(Time now) {
  check_obligations(now);
  for (int v = 0; v < cluster_.world().vrid_count(); ++v) {
    check_holders(now, v);
    check_split_brain(now, v);
    check_incumbent(now, v);
    check_convergence(now, v);
  }
}

void Checker::finish(Time now) {
  after_batch(now);
  obligations_.clear();  // the scenario leaves every probe more time than its bound
}

void Checker::report(Invariant invariant, int slot, Time at, std::string details) {
  if (!reported_.insert({invariant, slot}).second) return;
  const std::uint8_t vrid = slot >= 0 ? cluster_.world().vrids[slot].vrid : std::uint8_t{0};
  violations_.push_back({invariant, at, vrid, std::move(details)});
}

std::string Checker::node_list(const std::vector<int>& nodes) const {
  std::string text;
  for (const int n : nodes) text += (text.empty() ? "n" : " n") + std::to_string(n);
  return text.empty() ? "none" : text;
}

void Checker::check_obligations(Time now) {
  std::erase_if(obligations_, [&](const Obligation& obligation) {
    bool has_master = false;
    for (int n = 0; n < cluster_.world().node_count(); ++n) {
      has_master = has_master || cluster_.master(n, obligation.slot);
    }
    if (!has_master && now < obligation.deadline) return false;
    ++(obligation.invariant == Invariant::Liveness ? stats_.liveness_checks
                                                   : stats_.graceful_stop_checks);
    if (has_master) {
      const double ratio = static_cast<double>((now - obligation.since).count()) /
                           static_cast<double>((obligation.deadline - obligation.since).count());
      double& worst = obligation.invariant == Invariant::Liveness
                          ? stats_.worst_liveness_ratio
                          : stats_.worst_graceful_stop_ratio;
      worst = std::max(worst, ratio);
      return true;
    }
    report(obligation.invariant, obligation.slot, obligation.deadline,
           obligation.what + ": no healthy master after " +
               format_time(obligation.deadline - obligation.since));
    return true;
  });
}

void Checker::check_convergence(Time now, int slot) {
  const Segment& segment = cluster_.segment();
  if (!segment.fully_connected() || !segment.lossless() || now < convergence_due(slot)) return;
  std::vector<int> healthy;
  std::vector<int> masters;
  for (int n = 0; n < cluster_.world().node_count(); ++n) {
    if (cluster_.healthy(n, slot)) healthy.push_back(n);
    if (cluster_.master(n, slot)) masters.push_back(n);
  }
  if (healthy.empty()) return;
  ++stats_.convergence_samples;
  if (blocked_) ++stats_.blocked_convergence_samples;
  const Time due = convergence_due(slot);
  const Time allowed = cluster_.max_master_down_interval(slot) + 2 * cluster_.world().max_delay +
                       (blocked_ ? heal_allowance_ : Time{0});
  const Time quiet_since = due - allowed;
  if (last_master_change_[slot] > quiet_since) {
    double& worst = blocked_ ? stats_.worst_heal_ratio : stats_.worst_settle_ratio;
    worst = std::max(worst, static_cast<double>((last_master_change_[slot] - quiet_since).count()) /
                                static_cast<double>(allowed.count()));
  }
  ++stats_.storm_samples;
  if (last_master_change_[slot] > due && !reported(Invariant::TransitionStorm, slot)) {
    report(Invariant::TransitionStorm, slot, last_master_change_[slot],
           "a node entered or left MASTER at " + format_time(last_master_change_[slot]) +
               ", after the VRID was due to have converged at " + format_time(due) +
               " (quiet since " + format_time(quiet_since) +
               (blocked_ ? ", multicast blocked" : "") + "): a transition storm");
  }
  if (masters.size() != 1) {
    if (reported(Invariant::Convergence, slot)) return;
    report(Invariant::Convergence, slot, now,
           std::to_string(masters.size()) + " masters (" + node_list(masters) + ") among " +
               std::to_string(healthy.size()) + " healthy nodes, quiet since " +
               format_time(quiet_since));
    return;
  }
  const int master = masters.front();
  bool sampled = false;
  for (const int backup : healthy) {
    if (backup == master || !cluster_.preempt_active(backup, slot, now)) continue;
    sampled = true;
    if (cluster_.priority(backup, slot) > cluster_.priority(master, slot) &&
        !reported(Invariant::Preemption, slot)) {
      report(Invariant::Preemption, slot, now,
             "master n" + std::to_string(master) + " has priority " +
                 std::to_string(cluster_.priority(master, slot)) + " but preempting n" +
                 std::to_string(backup) + " has " +
                 std::to_string(cluster_.priority(backup, slot)));
    }
  }
  if (sampled) ++stats_.preemption_samples;
  // Not while multicast is blocked: a node entering service then cannot hear the incumbent until
  // one of them finds the other, and the election between two masters ignores preemption.
  if (cluster_.world().vrids[slot].strictly_nopreempt && !incumbent_[slot] && !blocked_)
    incumbent_[slot] = master;
}

void Checker::check_incumbent(Time now, int slot) {
  if (!incumbent_[slot]) return;
  const int incumbent = *incumbent_[slot];
  std::vector<int> others;
  for (int n = 0; n < cluster_.world().node_count(); ++n) {
    if (n != incumbent && cluster_.master(n, slot)) others.push_back(n);
  }
  ++stats_.nopreempt_samples;
  if (cluster_.master(incumbent, slot) && others.empty()) return;
  report(Invariant::NopreemptIncumbent, slot, now,
         "nopreempt master n" + std::to_string(incumbent) + " was replaced: master now " +
             node_list(others));
  incumbent_[slot].reset();
}

// Pairwise, so that it holds across partitions too: masters on different sides cannot find each
// other, masters on one side must have.
void Checker::check_split_brain(Time now, int slot) {
  if (!blocked_ || !cluster_.segment().lossless() || now < convergence_due(slot)) return;
  ++stats_.split_brain_samples;
  if (reported(Invariant::SplitBrain, slot)) return;
  const auto holding_master = [&](int n) {
    return cluster_.master(n, slot) && cluster_.slot(n, slot).holds_vips;
  };
  const int nodes = cluster_.world().node_count();
  for (int a = 0; a < nodes; ++a) {
    if (!holding_master(a)) continue;
    for (int b = a + 1; b < nodes; ++b) {
      if (!holding_master(b) || !cluster_.segment().connected(a, b)) continue;
      report(Invariant::SplitBrain, slot, now,
             "masters n" + std::to_string(a) + " and n" + std::to_string(b) +
                 " both hold the VIPs and reach each other by unicast, multicast blocked, past the "
                 "heal deadline " +
                 format_time(convergence_due(slot)));
      return;
    }
  }
}

bool Checker::holders_connected(int a, int b, int slot) const {
  const auto holds = [&](int n) {
    return cluster_.machine(n).up && cluster_.slot(n, slot).holds_vips;
  };
  return holds(a) && holds(b) && cluster_.segment().connected(a, b) &&
         cluster_.segment().lossless();
}

void Checker::check_holders(Time now, int slot) {
  const int nodes = cluster_.world().node_count();
  for (int a = 0; a < nodes; ++a) {
    for (int b = a + 1; b < nodes; ++b) {
      std::optional<Time>& since = dual_since_[slot][a][b];
      const bool dual = holders_connected(a, b, slot);
      if (dual && !since) {
        since = now;
        ++stats_.dual_holder_windows;
        wake_(now + dual_holding_bound(slot, now) + Time{1});
      }
      if (!since) continue;
      const Time bound = dual_holding_bound(slot, *since);
      const Time held = now - *since;
      stats_.longest_dual_holding = std::max(stats_.longest_dual_holding, held);
      stats_.worst_dual_holding_ratio =
          std::max(stats_.worst_dual_holding_ratio,
                   static_cast<double>(held.count()) / static_cast<double>(bound.count()));
      if (held > bound && !reported(Invariant::SingleHolder, slot)) {
        report(Invariant::SingleHolder, slot, *since + bound,
               "n" + std::to_string(a) + " and n" + std::to_string(b) +
                   " both hold the VIPs while connected and loss-free for more than " +
                   format_time(bound));
      }
      if (!dual) since.reset();
    }
  }
}

}  // namespace vipd::sim
