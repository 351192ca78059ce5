// The simulator's own tests: clean seeds pass and exercise every invariant, runs are deterministic,
// and every invariant catches the bug planted for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "planted_bug.h"
#include "rng.h"
#include "segment.h"
#include "simulator.h"
#include "world.h"

namespace vipd::sim {
namespace {

using namespace std::chrono_literals;

RunResult run(std::uint64_t seed, PlantedBug bug = PlantedBug::None, bool trace = false,
              std::optional<int> nodes = std::nullopt) {
  RunOptions options;
  options.seed = seed;
  options.bug = bug;
  options.record_trace = trace;
  options.nodes = nodes;
  return run_seed(options);
}

bool violates(const RunResult& result, Invariant invariant) {
  return std::any_of(result.violations.begin(), result.violations.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

TEST(SimSeeds, CleanSeedsPassAndExerciseEveryInvariant) {
  CheckStats stats;
  std::set<int> node_counts;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    const RunResult result = run(seed);
    RunOptions options;
    options.seed = seed;
    for (const Violation& violation : result.violations) {
      ADD_FAILURE() << format_violation(options, result, violation);
    }
    stats.merge(result.stats);
    node_counts.insert(result.nodes);
  }
  EXPECT_EQ(node_counts, (std::set<int>{2, 3, 4, 5, 6, 7}));
  EXPECT_GT(stats.convergence_samples, 1000u);
  EXPECT_GT(stats.preemption_samples, 1000u);
  EXPECT_GT(stats.nopreempt_samples, 100u);
  EXPECT_GT(stats.liveness_checks, 20u);
  EXPECT_GT(stats.graceful_stop_checks, 20u);
  EXPECT_GT(stats.dual_holder_windows, 100u);
  // The bounds are tight: real runs use most of them, none more than all.
  EXPECT_GT(stats.worst_liveness_ratio, 0.5);
  EXPECT_LE(stats.worst_liveness_ratio, 1.0);
  EXPECT_GT(stats.worst_graceful_stop_ratio, 0.5);
  EXPECT_LE(stats.worst_graceful_stop_ratio, 1.0);
  EXPECT_GT(stats.worst_settle_ratio, 0.5);
  EXPECT_LE(stats.worst_settle_ratio, 1.0);
  EXPECT_LE(stats.worst_dual_holding_ratio, 1.0);
}

TEST(SimDeterminism, SameSeedGivesTheSameTrace) {
  for (const std::uint64_t seed : {1ull, 42ull, 123456789ull}) {
    const RunResult first = run(seed, PlantedBug::None, true);
    const RunResult second = run(seed, PlantedBug::None, true);
    EXPECT_EQ(first.trace_hash, second.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.events, second.events) << "seed " << seed;
    EXPECT_EQ(first.virtual_time, second.virtual_time) << "seed " << seed;
    EXPECT_EQ(first.trace, second.trace) << "seed " << seed;
    EXPECT_NE(first.trace.find("BACKUP -> MASTER"), std::string::npos) << first.trace;
  }
}

TEST(SimDeterminism, RecordingTheTraceDoesNotChangeTheRun) {
  EXPECT_EQ(run(7, PlantedBug::None, true).trace_hash, run(7, PlantedBug::None, false).trace_hash);
}

TEST(SimDeterminism, DifferentSeedsGiveDifferentRuns) {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) hashes.insert(run(seed).trace_hash);
  EXPECT_EQ(hashes.size(), 20u);
}

TEST(SimDeterminism, NodesOptionReplaysTheSeedsOwnChoice) {
  for (const std::uint64_t seed : {3ull, 11ull, 29ull}) {
    const RunResult chosen = run(seed);
    const RunResult replayed = run(seed, PlantedBug::None, false, chosen.nodes);
    EXPECT_EQ(chosen.trace_hash, replayed.trace_hash) << "seed " << seed;
    const int other = chosen.nodes == kMaxNodes ? kMinNodes : chosen.nodes + 1;
    const RunResult different = run(seed, PlantedBug::None, false, other);
    EXPECT_EQ(different.nodes, other);
    EXPECT_NE(chosen.trace_hash, different.trace_hash) << "seed " << seed;
  }
}

struct PlantedCase {
  PlantedBug bug;
  Invariant invariant;
};

class SimPlantedBug : public testing::TestWithParam<PlantedCase> {};

// The checker for the invariant reports the planted bug in some seeds, and each seed that shows it
// passes without the bug: the report is the bug's doing, not the checker's.
TEST_P(SimPlantedBug, CheckerCatchesIt) {
  const PlantedCase planted = GetParam();
  std::vector<std::uint64_t> caught;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const RunResult result = run(seed, planted.bug);
    if (violates(result, planted.invariant)) caught.push_back(seed);
  }
  EXPECT_GE(caught.size(), 3u) << to_string(planted.bug) << " was not caught by "
                               << to_string(planted.invariant);
  for (std::size_t i = 0; i < std::min<std::size_t>(caught.size(), 5); ++i) {
    EXPECT_TRUE(run(caught[i]).violations.empty()) << "seed " << caught[i];
  }
}

INSTANTIATE_TEST_SUITE_P(
    Invariants, SimPlantedBug,
    testing::Values(PlantedCase{PlantedBug::MasterIgnoresHigherPriority, Invariant::Convergence},
                    PlantedCase{PlantedBug::BackupIgnoresMasterDown, Invariant::Liveness},
                    PlantedCase{PlantedBug::BackupAcceptsLowerPriority, Invariant::Preemption},
                    PlantedCase{PlantedBug::IgnoreNopreempt, Invariant::Preemption},
                    PlantedCase{PlantedBug::IgnorePriorityZero, Invariant::GracefulStop},
                    PlantedCase{PlantedBug::NeverRemoveVips, Invariant::SingleHolder},
                    PlantedCase{PlantedBug::MasterIgnoresHigherPriority, Invariant::SingleHolder}),
    [](const testing::TestParamInfo<PlantedCase>& case_info) {
      std::string name = std::string(to_string(case_info.param.bug)) + "_" +
                         std::string(to_string(case_info.param.invariant));
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(SimPlantedBug, NamesRoundTrip) {
  for (const PlantedBug bug : planted_bugs()) {
    EXPECT_EQ(parse_planted_bug(to_string(bug)), bug);
  }
  EXPECT_EQ(parse_planted_bug("none"), PlantedBug::None);
  EXPECT_FALSE(parse_planted_bug("no-such-bug").has_value());
}

TEST(SimReport, ViolationLineCarriesTheReplayCommand) {
  RunOptions options;
  options.bug = PlantedBug::NeverRemoveVips;
  for (options.seed = 1; options.seed <= 50; ++options.seed) {
    const RunResult result = run_seed(options);
    if (result.violations.empty()) continue;
    const std::string line = format_violation(options, result, result.violations.front());
    const std::string replay = "replay: vipd-sim --seeds 1 --seed " + std::to_string(options.seed) +
                               " --nodes " + std::to_string(result.nodes) +
                               " --verbose --plant-bug never-remove-vips";
    EXPECT_EQ(line.rfind("VIOLATION seed=" + std::to_string(options.seed) + " nodes=", 0), 0u)
        << line;
    EXPECT_NE(line.find(" invariant=single-holder "), std::string::npos) << line;
    EXPECT_NE(line.find(" t="), std::string::npos) << line;
    EXPECT_NE(line.find(replay), std::string::npos) << line;
    return;
  }
  FAIL() << "never-remove-vips was not caught in 50 seeds";
}

class SimSegment : public testing::Test {
 protected:
  SimSegment() : rng_(5), world_(draw_world(rng_, 3)), segment_(world_) {}
  Rng rng_;
  World world_;
  Segment segment_;
};

TEST_F(SimSegment, LinksAreFifoAndWithinTheMaximumDelay) {
  segment_.set_jitter(world_.jitter_cap);
  Time previous{0};
  for (int i = 0; i < 2000; ++i) {
    const Time now = Time(i) * 1000;  // sends 1 us apart: far closer than the jitter
    const std::optional<Time> arrival = segment_.route(0, 1, now, rng_);
    ASSERT_TRUE(arrival.has_value());
    EXPECT_GE(*arrival, previous);
    EXPECT_GT(*arrival, now);
    EXPECT_LE(*arrival, now + world_.max_delay);
    previous = *arrival;
  }
}

TEST_F(SimSegment, PartitionsAndLossDropPackets) {
  segment_.partition({0, 0, 1});
  EXPECT_TRUE(segment_.route(0, 1, Time{0}, rng_).has_value());
  EXPECT_FALSE(segment_.route(0, 2, Time{0}, rng_).has_value());
  EXPECT_FALSE(segment_.route(2, 1, Time{0}, rng_).has_value());
  EXPECT_FALSE(segment_.fully_connected());
  segment_.heal();
  EXPECT_TRUE(segment_.fully_connected());
  EXPECT_TRUE(segment_.route(0, 2, Time{0}, rng_).has_value());

  segment_.set_loss(1.0);
  EXPECT_FALSE(segment_.lossless());
  EXPECT_FALSE(segment_.route(0, 1, Time{0}, rng_).has_value());
  segment_.set_loss(0.5);
  int delivered = 0;
  for (int i = 0; i < 1000; ++i) delivered += segment_.route(0, 1, Time{0}, rng_).has_value();
  EXPECT_GT(delivered, 400);
  EXPECT_LT(delivered, 600);
}

core::InstanceConfig backup_config() {
  core::InstanceConfig config;
  config.vrid = 9;
  config.version = core::VrrpVersion::V3;
  config.advert_interval = 100ms;
  config.priority = 100;
  config.primary_address = core::IpAddress::v4(0xC6120002);
  return config;
}

bool arms_timer(const core::ActionList& actions) {
  return std::any_of(actions.begin(), actions.end(), [](const core::Action& action) {
    return std::holds_alternative<core::ArmTimer>(action);
  });
}

TEST(SimMutation, IgnorePriorityZeroDropsOnlyPriorityZero) {
  MutatedInstance clean(backup_config(), PlantedBug::None);
  MutatedInstance buggy(backup_config(), PlantedBug::IgnorePriorityZero);
  clean.start(Time{0});
  buggy.start(Time{0});
  const core::RxAdvert stop{core::IpAddress::v4(0xC6120009), core::kStopPriority, 10};
  EXPECT_TRUE(arms_timer(clean.on_advert(1ms, stop)));
  EXPECT_TRUE(buggy.on_advert(1ms, stop).empty());
  const core::RxAdvert higher{core::IpAddress::v4(0xC6120009), 200, 10};
  EXPECT_TRUE(arms_timer(buggy.on_advert(2ms, higher)));
}

TEST(SimMutation, NeverRemoveVipsKeepsTheRestOfTheActions) {
  core::InstanceConfig config = backup_config();
  config.priority = core::kOwnerPriority;
  MutatedInstance buggy(config, PlantedBug::NeverRemoveVips);
  EXPECT_EQ(buggy.start(Time{0}).size(), core::Instance(config).start(Time{0}).size());
  const core::ActionList stopped = buggy.stop(1ms);
  EXPECT_FALSE(stopped.empty());
  EXPECT_TRUE(std::none_of(stopped.begin(), stopped.end(), [](const core::Action& action) {
    return std::holds_alternative<core::RemoveVips>(action);
  }));
  EXPECT_EQ(buggy.core().state(), core::State::Stopped);
}

TEST(SimMutation, IgnoreNopreemptRunsTheInstanceWithPreempt) {
  core::InstanceConfig config = backup_config();
  config.preempt = false;
  EXPECT_TRUE(MutatedInstance(config, PlantedBug::IgnoreNopreempt).core().config().preempt);
  EXPECT_FALSE(MutatedInstance(config, PlantedBug::None).core().config().preempt);
}

}  // namespace
}  // namespace vipd::sim
