// vipd-sim: runs seeds of the deterministic VRRP simulation and reports invariant violations.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "planted_bug.h"
#include "simulator.h"

namespace {

using namespace vipd::sim;

void print_receive_stats(const char* path, const ReceiveStats& stats) {
  auto ratio = [](std::uint64_t arrivals, std::uint64_t calls) {
    return calls == 0 ? 0.0 : static_cast<double>(arrivals) / static_cast<double>(calls);
  };
  std::printf(
      "receive path %s: adverts sent %llu, arrivals %llu, on_advert calls %llu (ring events %llu, "
      "records fed %llu), arrivals per call %.2f; quiet phases: arrivals %llu, calls "
      "%llu, arrivals per call %.2f\n",
      path, static_cast<unsigned long long>(stats.adverts_sent),
      static_cast<unsigned long long>(stats.arrivals),
      static_cast<unsigned long long>(stats.advert_calls),
      static_cast<unsigned long long>(stats.kernel_events),
      static_cast<unsigned long long>(stats.record_feeds),
      ratio(stats.arrivals, stats.advert_calls),
      static_cast<unsigned long long>(stats.quiet_arrivals),
      static_cast<unsigned long long>(stats.quiet_advert_calls),
      ratio(stats.quiet_arrivals, stats.quiet_advert_calls));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vipd-sim: deterministic multi-node VRRP simulator checking protocol invariants"};
  std::uint64_t seeds = 100;
  std::uint64_t first_seed = 1;
  int nodes = 0;
  bool verbose = false;
  bool show_stats = false;
  std::string bug_name = "none";
  std::string path_name = "every";
  std::string scenario_name = "auto";
  std::vector<std::string> fix_names;
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
  app.add_option("--receive-path", path_name,
                 "every: each advert reaches the core (raw socket); coalesced: the XDP kernel "
                 "record and ring buffer in between; both: run each seed both ways and compare "
                 "the state changes")
      ->check(CLI::IsMember({"every", "coalesced", "both"}));
  app.add_option("--coalescing-fix", fix_names,
                 "Coalesced path: which daemon changes to model (flush-before-inputs, "
                 "flush-at-window-end, master-hears-every, feed-replaced-record, all = those four "
                 "(the default), feed-record-to-masters, none = the daemon before them; "
                 "comma-separated)")
      ->delimiter(',')
      ->check([](const std::string& name) {
        return parse_coalescing_fix(name) ? std::string() : "unknown fix " + name;
      });
  app.add_option("--scenario", scenario_name,
                 "auto: each seed draws its scenario (a few percent run the split brain); normal: "
                 "chaos rounds only; split-brain: multicast blocked, healed by unicast")
      ->check(CLI::IsMember({"auto", "normal", "split-brain"}));
  CLI11_PARSE(app, argc, argv);
  const bool both = path_name == "both";

  RunOptions options;
  options.bug = parse_planted_bug(bug_name).value_or(PlantedBug::None);
  options.receive_path = parse_receive_path(path_name).value_or(ReceivePath::Coalesced);
  if (!fix_names.empty()) options.coalescing_fixes = 0;
  for (const std::string& name : fix_names) {
    options.coalescing_fixes = static_cast<std::uint8_t>(options.coalescing_fixes |
                                                         parse_coalescing_fix(name).value_or(0));
  }
  options.record_trace = verbose;
  options.scenario = parse_scenario(scenario_name).value_or(Scenario::Auto);
  if (nodes != 0) options.nodes = nodes;

  std::uint64_t violations = 0;
  std::uint64_t differences = 0;
  std::uint64_t events = 0;
  CheckStats stats;
  ReceiveStats every_stats;
  ReceiveStats receive_stats;
  SplitBrainStats split_stats;
  for (std::uint64_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    options.seed = seed;
    std::optional<RunResult> every;
    if (both) {
      RunOptions every_options = options;
      every_options.receive_path = ReceivePath::Every;
      every = run_seed(every_options);
      for (const Violation& violation : every->violations) {
        std::printf("%s\n", format_violation(every_options, *every, violation).c_str());
      }
      violations += every->violations.size();
      every_stats.merge(every->receive);
    }
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
    receive_stats.merge(result.receive);
    split_stats.merge(result.split_brain);
    if (!every) continue;
    if (const auto difference = state_change_difference(*every, result)) {
      ++differences;
      RunOptions replay = options;
      replay.receive_path = ReceivePath::Every;
      std::printf(
          "DIFFERENCE seed=%llu nodes=%d every vs coalesced: %s | replay: %s and with "
          "--receive-path coalesced\n",
          static_cast<unsigned long long>(seed), result.nodes, difference->c_str(),
          replay_command(replay, result.nodes).c_str());
    }
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
    std::printf(
        "split brain: %llu seeds, blocked convergence samples %llu, split-brain samples %llu, "
        "transition-storm samples %llu, heal "
        "time used of the bound, worst %.6f; evidence frames %llu, claims %llu, contacts %llu, "
        "unicast adverts %llu, not_peer rejects %llu\n",
        static_cast<unsigned long long>(split_stats.split_brain_seeds),
        static_cast<unsigned long long>(stats.blocked_convergence_samples),
        static_cast<unsigned long long>(stats.split_brain_samples),
        static_cast<unsigned long long>(stats.storm_samples), stats.worst_heal_ratio,
        static_cast<unsigned long long>(split_stats.evidence_frames),
        static_cast<unsigned long long>(split_stats.claims),
        static_cast<unsigned long long>(split_stats.contacts),
        static_cast<unsigned long long>(split_stats.unicast_adverts),
        static_cast<unsigned long long>(split_stats.not_peer_rejects));
    if (both) print_receive_stats("every", every_stats);
    print_receive_stats(both ? "coalesced" : path_name.c_str(), receive_stats);
  }
  if (both) {
    std::printf("%llu seeds, %llu violations, %llu with different state changes\n",
                static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(violations),
                static_cast<unsigned long long>(differences));
  } else {
    std::printf("%llu seeds, %llu violations\n", static_cast<unsigned long long>(seeds),
                static_cast<unsigned long long>(violations));
  }
  return violations == 0 && differences == 0 ? 0 : 1;
}
