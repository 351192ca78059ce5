// The check's verdict through Kubernetes API outages, with time passed in: the last verdict is
// kept, an outage is reported once, turns stale after the grace period and is still kept.
#include "k8s/endpoint_verdict.h"

#include <gtest/gtest.h>

namespace vipd::k8s {
namespace {

using std::chrono::seconds;

constexpr core::Time kGrace = seconds(60);
core::Time at(int s) {
  return core::Time(seconds(s));
}

TEST(EndpointVerdict, FollowsTheCountWhileTheApiAnswers) {
  EndpointVerdict verdict(kGrace);
  EXPECT_EQ(verdict.verdict(), Verdict::Unknown);
  EXPECT_EQ(verdict.answered(2, at(1)).changed, Verdict::Healthy);
  EXPECT_FALSE(verdict.answered(1, at(2)).changed.has_value());  // still healthy: no report
  EXPECT_EQ(verdict.answered(0, at(3)).changed, Verdict::Failed);
  EXPECT_EQ(verdict.answered(1, at(4)).changed, Verdict::Healthy);
  EXPECT_TRUE(verdict.reachable());
  EXPECT_EQ(verdict.stale_at(), core::kNever);
}

TEST(EndpointVerdict, AnOutageKeepsTheLastVerdictAndIsReportedOnce) {
  EndpointVerdict verdict(kGrace);
  verdict.answered(1, at(10));
  const auto first = verdict.failed(at(20));
  EXPECT_TRUE(first.outage_started);
  EXPECT_FALSE(first.changed.has_value());
  EXPECT_EQ(verdict.verdict(), Verdict::Healthy);
  EXPECT_FALSE(verdict.reachable());
  EXPECT_FALSE(verdict.stale());
  for (int t = 21; t < 80; t += 3) {
    const auto again = verdict.failed(at(t));
    EXPECT_FALSE(again.outage_started) << t;
    EXPECT_FALSE(again.changed.has_value()) << t;
  }
  EXPECT_EQ(verdict.verdict(), Verdict::Healthy);
  EXPECT_EQ(verdict.outage_failures(), 21u);
  EXPECT_EQ(verdict.outage_for(at(50)), seconds(30));
}

TEST(EndpointVerdict, AFailedVerdictIsKeptToo) {
  // A node without local endpoints stays out while the API is away: no node gains the VIPs
  // because of the outage either.
  EndpointVerdict verdict(kGrace);
  verdict.answered(0, at(1));
  EXPECT_FALSE(verdict.failed(at(2)).changed.has_value());
  EXPECT_EQ(verdict.verdict(), Verdict::Failed);
}

TEST(EndpointVerdict, TurnsStaleExactlyOnceAtTheEndOfTheGrace) {
  EndpointVerdict verdict(kGrace);
  verdict.answered(1, at(0));
  verdict.failed(at(100));
  EXPECT_EQ(verdict.stale_at(), at(160));
  EXPECT_FALSE(verdict.check_stale(at(159)));
  EXPECT_FALSE(verdict.stale());
  EXPECT_TRUE(verdict.check_stale(at(160)));
  EXPECT_TRUE(verdict.stale());
  EXPECT_FALSE(verdict.check_stale(at(200)));  // once
  EXPECT_EQ(verdict.stale_at(), core::kNever);
  // Still the last verdict: stale is a report, not a state change.
  EXPECT_EQ(verdict.verdict(), Verdict::Healthy);
  EXPECT_FALSE(verdict.failed(at(300)).changed.has_value());
}

TEST(EndpointVerdict, AnAnswerEndsTheOutageAndSaysHowItWent) {
  EndpointVerdict verdict(kGrace);
  verdict.answered(1, at(0));
  verdict.failed(at(10));
  verdict.failed(at(11));
  verdict.failed(at(13));
  const auto answered = verdict.answered(1, at(17));
  ASSERT_TRUE(answered.outage_ended.has_value());
  EXPECT_EQ(answered.outage_ended->lasted, seconds(7));
  EXPECT_EQ(answered.outage_ended->failures, 3u);
  EXPECT_FALSE(answered.outage_ended->went_stale);
  EXPECT_FALSE(answered.changed.has_value());
  EXPECT_TRUE(verdict.reachable());
  EXPECT_EQ(verdict.outage_failures(), 0u);
  EXPECT_EQ(verdict.outage_for(at(18)), core::Time{0});
  EXPECT_FALSE(verdict.answered(1, at(18)).outage_ended.has_value());
}

TEST(EndpointVerdict, AStaleOutageEndsWithTheNewCount) {
  EndpointVerdict verdict(kGrace);
  verdict.answered(1, at(0));
  verdict.failed(at(10));
  EXPECT_TRUE(verdict.check_stale(at(70)));
  // While the API was away the pod went: the first answer says so at once.
  const auto answered = verdict.answered(0, at(90));
  ASSERT_TRUE(answered.outage_ended.has_value());
  EXPECT_TRUE(answered.outage_ended->went_stale);
  EXPECT_EQ(answered.changed, Verdict::Failed);
  EXPECT_FALSE(verdict.stale());
}

TEST(EndpointVerdict, EachOutageIsItsOwnEpisode) {
  EndpointVerdict verdict(kGrace);
  verdict.answered(1, at(0));
  EXPECT_TRUE(verdict.failed(at(10)).outage_started);
  verdict.answered(1, at(12));
  EXPECT_TRUE(verdict.failed(at(20)).outage_started);
  EXPECT_EQ(verdict.outages(), 2u);
  EXPECT_EQ(verdict.stale_at(), at(80));  // the grace counts from the new outage
}

TEST(EndpointVerdict, NoAnswerSinceStartCountsAsFailed) {
  // Nothing to keep: no evidence of a local endpoint. Nodes that knew their state keep it.
  EndpointVerdict verdict(kGrace);
  const auto failure = verdict.failed(at(1));
  EXPECT_TRUE(failure.outage_started);
  EXPECT_EQ(failure.changed, Verdict::Failed);
  EXPECT_FALSE(verdict.failed(at(2)).changed.has_value());
  EXPECT_EQ(verdict.answered(1, at(5)).changed, Verdict::Healthy);
}

TEST(EndpointVerdict, ZeroGraceIsStaleAtTheFirstCheck) {
  EndpointVerdict verdict(core::Time{0});
  verdict.answered(1, at(0));
  verdict.failed(at(5));
  EXPECT_EQ(verdict.stale_at(), at(5));
  EXPECT_TRUE(verdict.check_stale(at(5)));
  EXPECT_EQ(verdict.verdict(), Verdict::Healthy);
}

}  // namespace
}  // namespace vipd::k8s
