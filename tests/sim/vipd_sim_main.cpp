// vipd-sim: runs seeds of the deterministic VRRP simulation and reports invariant violations.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "planted_bug.h"
#include "simulator.h"

int main(int argc, char** argv) {
  using namespace vipd::sim;
  CLI::App app{"vipd-sim: deterministic multi-node VRRP simulator checking protocol invariants"};
  std::uint64_t seeds = 100;
  std::uint64_t first_seed = 1;
  int nodes = 0;
  bool verbose = false;
  bool show_stats = false;
  std::string bug_name = "none";
  std::vector<std::string> bug_names;
  for (const PlantedBug bug : planted_bugs()) bug_names.emplace_back(to_string(bug));
  bug_names.emplace_back("none");

  app.add_option("--seeds", seeds, "Number of seeds to run")->check(CLI::PositiveNumber);
  app.add_option("--seed", first_seed, "First seed (runs seed .. seed + seeds - 1)");
  app.add_option("--nodes", nodes, "Nodes per seed (default: each seed picks 2-7)")
      ->check(CLI::Range(kMinNodes, kMaxNodes));
  app.add_flag("--verbose", verbose, "Print each seed's configuration and event trace");
  app.add_flag("--stats", show_stats, "Print how often each invariant was checked, and margins");
  app.add_option("--plant-bug", bug_name, "Test only: run a known protocol bug around the core")
      ->check(CLI::IsMember(bug_names));
  CLI11_PARSE(app, argc, argv);

  RunOptions options;
  options.bug = parse_planted_bug(bug_name).value_or(PlantedBug::None);
  options.record_trace = verbose;
  if (nodes != 0) options.nodes = nodes;

  std::uint64_t violations = 0;
  std::uint64_t events = 0;
  CheckStats stats;
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    options.seed = seed;
    const RunResult result = run_seed(options);
    if (verbose) {
      std::fputs(result.trace.c_str(), stdout);
      std::printf("seed %llu: %llu events, %s virtual, trace hash %016llx\n",
                  static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(result.events),
                  format_time(result.virtual_time).c_str(),
                  static_cast<unsigned long long>(result.trace_hash));
    }
    for (const Violation& violation : result.violations) {
      std::printf("%s\n", format_violation(options, result, violation).c_str());
    }
    violations += result.violations.size();
    events += result.events;
    stats.merge(result.stats);
  }
  if (show_stats) {
    std::printf(
        "events %llu; samples: convergence %llu, preemption %llu, nopreempt incumbent %llu; "
        "obligations: liveness %llu, graceful stop %llu; dual-holder windows %llu, longest %s; "
        "time used of the bound, worst: liveness %.6f, graceful stop %.6f, convergence %.6f, "
        "dual holding %.6f\n",
        static_cast<unsigned long long>(events),
        static_cast<unsigned long long>(stats.convergence_samples),
        static_cast<unsigned long long>(stats.preemption_samples),
        static_cast<unsigned long long>(stats.nopreempt_samples),
        static_cast<unsigned long long>(stats.liveness_checks),
        static_cast<unsigned long long>(stats.graceful_stop_checks),
        static_cast<unsigned long long>(stats.dual_holder_windows),
        format_time(stats.longest_dual_holding).c_str(), stats.worst_liveness_ratio,
        stats.worst_graceful_stop_ratio, stats.worst_settle_ratio, stats.worst_dual_holding_ratio);
  }
  std::printf("%llu seeds, %llu violations\n", static_cast<unsigned long long>(seeds),
              static_cast<unsigned long long>(violations));
  return violations == 0 ? 0 : 1;
}
