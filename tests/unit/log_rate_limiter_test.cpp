// The rate limit on repeated warnings, driven by a stepped clock (no sleeping).
#include <gtest/gtest.h>

#include "log/rate_limiter.h"

namespace vipd::log {
namespace {

using std::chrono::seconds;

const SteadyTime kStart{seconds(1000)};

RateLimits limits(std::size_t burst = 3, seconds window = seconds(60)) {
  RateLimits l;
  l.burst = burst;
  l.window = window;
  return l;
}

Record event(std::string_view event_name, std::string_view instance, std::string_view message,
             Level level = Level::warn) {
  Record r;
  r.level = level;
  r.event = event_name;
  r.instance = instance;
  r.message = message;
  return r;
}

Record plain(std::string_view message, Level level = Level::warn) {
  return event("log", "", message, level);
}

// How many of `count` copies of `record`, one a second from `from`, are let through.
int admitted(RateLimiter& limiter, const Record& record, int count, SteadyTime from = kStart) {
  int passed = 0;
  for (int i = 0; i < count; ++i) passed += limiter.admit(record, from + seconds(i)) ? 1 : 0;
  return passed;
}

TEST(RateLimiter, BurstPassesThenTheRestIsCountedAndSummarisedWhenTheWindowEnds) {
  RateLimiter limiter(limits(3));
  const Record rejected = event("advert_rejected", "VI_1", "(VI_1) bogus VRRP packet #");
  EXPECT_EQ(admitted(limiter, rejected, 10), 3);
  EXPECT_TRUE(limiter.expire(kStart + seconds(59)).empty()) << "the window is still open";

  const auto summaries = limiter.expire(kStart + seconds(60));
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].count, 7u);
  EXPECT_EQ(summaries[0].level, Level::warn);
  EXPECT_EQ(summaries[0].event, "advert_rejected");
  EXPECT_EQ(summaries[0].instance, "VI_1");
  EXPECT_EQ(summaries[0].last_message, "(VI_1) bogus VRRP packet #");
  EXPECT_EQ(limiter.tracked(), 0u) << "ended windows are forgotten";
  EXPECT_TRUE(limiter.expire(kStart + seconds(120)).empty()) << "a summary is given once";
}

TEST(RateLimiter, ANewWindowLetsTheBurstThroughAgain) {
  RateLimiter limiter(limits(3));
  const Record warning = plain("sending adverts failed: No buffer space available");
  EXPECT_EQ(admitted(limiter, warning, 5), 3);
  EXPECT_EQ(limiter.expire(kStart + seconds(61)).size(), 1u);
  EXPECT_EQ(admitted(limiter, warning, 5, kStart + seconds(61)), 3);
}

TEST(RateLimiter, QuietKindsProduceNoSummary) {
  RateLimiter limiter(limits(3));
  EXPECT_EQ(admitted(limiter, plain("once"), 3), 3);
  EXPECT_TRUE(limiter.expire(kStart + seconds(60)).empty());
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(RateLimiter, InfoAndDebugAreNeverLimited) {
  RateLimiter limiter(limits(1));
  EXPECT_EQ(
      admitted(limiter, event("state_change", "VI_1", "Entering MASTER STATE", Level::info), 50),
      50);
  EXPECT_EQ(admitted(limiter, plain("libbpf: ...", Level::debug), 50), 50);
  EXPECT_EQ(limiter.tracked(), 0u);
  EXPECT_EQ(admitted(limiter, plain("error", Level::error), 5), 1);
}

TEST(RateLimiter, StructuredEventsAreAlikeByLevelEventAndInstance) {
  RateLimiter limiter(limits(2));
  // Same event and instance, different text: one kind.
  EXPECT_TRUE(limiter.admit(event("advert_rejected", "VI_1", "from 198.18.0.2"), kStart));
  EXPECT_TRUE(limiter.admit(event("advert_rejected", "VI_1", "from 198.18.0.3"), kStart));
  EXPECT_FALSE(limiter.admit(event("advert_rejected", "VI_1", "from 198.18.0.4"), kStart));
  // Another instance, event or level is another kind.
  EXPECT_TRUE(limiter.admit(event("advert_rejected", "VI_2", "from 198.18.0.2"), kStart));
  EXPECT_TRUE(limiter.admit(event("vip_removed", "VI_1", "from 198.18.0.2"), kStart));
  EXPECT_TRUE(
      limiter.admit(event("advert_rejected", "VI_1", "from 198.18.0.2", Level::error), kStart));
  EXPECT_EQ(limiter.tracked(), 4u + 3u) << "4 kinds, and 3 events' windows across instances";
}

TEST(RateLimiter, PlainCallsAreAlikeByText) {
  RateLimiter limiter(limits(1));
  EXPECT_TRUE(limiter.admit(plain("ARP watch: ring buffer full"), kStart));
  EXPECT_FALSE(limiter.admit(plain("ARP watch: ring buffer full"), kStart));
  EXPECT_TRUE(limiter.admit(plain("ARP watch: poll failed"), kStart));
}

TEST(RateLimiter, AWindowEndedBeforeExpireKeepsItsSummary) {
  RateLimiter limiter(limits(1));
  const Record warning = plain("x");
  EXPECT_EQ(admitted(limiter, warning, 4), 1);
  // The next line arrives after the window, expire() not called in between.
  EXPECT_TRUE(limiter.admit(warning, kStart + seconds(100)));
  const auto summaries = limiter.expire(kStart + seconds(100));
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].count, 3u);
}

TEST(RateLimiter, DrainReturnsOpenWindowsToo) {
  RateLimiter limiter(limits(1));
  EXPECT_EQ(admitted(limiter, plain("a"), 3), 1);
  EXPECT_EQ(admitted(limiter, plain("b"), 1), 1);
  const auto summaries = limiter.drain();
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].last_message, "a");
  EXPECT_EQ(summaries[0].count, 2u);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(RateLimiter, BeyondMaxKindsNewKindsPassUntracked) {
  RateLimits l = limits(1);
  l.max_kinds = 4;
  RateLimiter limiter(l);
  for (int i = 0; i < 10; ++i) {
    const std::string text = "distinct " + std::to_string(i);
    EXPECT_TRUE(limiter.admit(plain(text), kStart));
    EXPECT_EQ(limiter.admit(plain(text), kStart), i >= 4) << text;
  }
  EXPECT_EQ(limiter.tracked(), 4u);
}

TEST(RateLimiter, OneEventAcrossManyInstancesIsLimitedAsAWhole) {
  // A flood of ARP claims for every VIP: one warning per instance, 50 instances.
  RateLimits l = limits(5);
  l.event_burst = 10;
  RateLimiter limiter(l);
  int passed = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) {
      const std::string instance = "VI_" + std::to_string(i);
      passed += limiter.admit(event("vip_conflict", instance, "VIP claimed by 02:..."),
                              kStart + seconds(round))
                    ? 1
                    : 0;
    }
  }
  EXPECT_EQ(passed, 10) << "the per-instance burst alone would let 150 through";
  const auto summaries = limiter.expire(kStart + seconds(60));
  ASSERT_EQ(summaries.size(), 1u) << "one summary for the event, none per instance";
  EXPECT_EQ(summaries[0].event, "vip_conflict");
  EXPECT_EQ(summaries[0].instance, "") << "the summary spans instances";
  EXPECT_EQ(summaries[0].count, 140u) << "every suppressed line is counted once";
}

TEST(RateLimiter, TheEventLimitLeavesOtherEventsAndPlainLinesAlone) {
  RateLimits l = limits(5);
  l.event_burst = 2;
  RateLimiter limiter(l);
  EXPECT_TRUE(limiter.admit(event("vip_conflict", "VI_1", "a"), kStart));
  EXPECT_TRUE(limiter.admit(event("vip_conflict", "VI_2", "a"), kStart));
  EXPECT_FALSE(limiter.admit(event("vip_conflict", "VI_3", "a"), kStart));
  EXPECT_TRUE(limiter.admit(event("vip_missing", "VI_3", "b"), kStart));
  EXPECT_TRUE(limiter.admit(event("vip_conflict", "VI_3", "a", Level::error), kStart))
      << "another level is another event";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.admit(plain("p" + std::to_string(i)), kStart));
}

TEST(RateLimiter, BurstZeroDisablesTheLimit) {
  RateLimiter limiter(limits(0));
  EXPECT_EQ(admitted(limiter, plain("x"), 100), 100);
}

}  // namespace
}  // namespace vipd::log
