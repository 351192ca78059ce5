// The log lines about rejected packets: per reason, the first at once, then one per interval with
// the count since the reason's previous line; unknown VRIDs never.
#include <gtest/gtest.h>

#include "app/reject_report.h"

namespace vipd::app {
namespace {

using core::DecodeError;
using std::chrono::seconds;

constexpr core::Time kStart = seconds(100);

RejectCounters totals(std::initializer_list<std::pair<DecodeError, std::uint64_t>> counts) {
  RejectCounters out{};
  for (const auto& [reason, count] : counts) out[static_cast<std::size_t>(reason)] = count;
  return out;
}

TEST(RejectReport, TheFirstRejectOfAReasonIsReportedAtOnce) {
  RejectReport report(seconds(30));
  const auto lines = report.update(kStart, totals({{DecodeError::BadTtl, 1}}));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].reason, DecodeError::BadTtl);
  EXPECT_EQ(lines[0].count, 1u);
  EXPECT_EQ(lines[0].span, core::Time{0});
}

TEST(RejectReport, AFloodGivesOneLinePerIntervalWithTheCountSince) {
  RejectReport report(seconds(30));
  std::uint64_t total = 0;
  std::vector<RejectReport::Line> lines;
  for (int ms = 0; ms < 120'000; ms += 10) {  // 100 bad packets a second for two minutes
    total += 1;
    const auto due = report.update(kStart + std::chrono::milliseconds(ms),
                                   totals({{DecodeError::BadChecksum, total}}));
    lines.insert(lines.end(), due.begin(), due.end());
  }
  ASSERT_EQ(lines.size(), 4u) << "at 0, 30, 60 and 90 s";
  EXPECT_EQ(lines[0].count, 1u);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].count, 3000u) << i;
    EXPECT_EQ(lines[i].span, seconds(30)) << i;
  }
  std::uint64_t reported = 0;
  for (const auto& line : lines) reported += line.count;
  const auto last =
      report.update(kStart + seconds(150), totals({{DecodeError::BadChecksum, total}}));
  ASSERT_EQ(last.size(), 1u) << "what came after the last line is reported once the interval ends";
  EXPECT_EQ(reported + last[0].count, total) << "every reject is counted in exactly one line";
  EXPECT_TRUE(
      report.update(kStart + seconds(500), totals({{DecodeError::BadChecksum, total}})).empty())
      << "no line without new rejects";
}

TEST(RejectReport, ReasonsAreReportedIndependently) {
  RejectReport report(seconds(30));
  EXPECT_EQ(report.update(kStart, totals({{DecodeError::BadTtl, 5}})).size(), 1u);
  const auto lines = report.update(
      kStart + seconds(1), totals({{DecodeError::BadTtl, 9}, {DecodeError::AuthMismatch, 2}}));
  ASSERT_EQ(lines.size(), 1u) << "the TTL reason waits for its interval, the new one does not";
  EXPECT_EQ(lines[0].reason, DecodeError::AuthMismatch);
  EXPECT_EQ(lines[0].count, 2u);
}

TEST(RejectReport, UnknownVridsAreNormalTrafficAndNeverReported) {
  RejectReport report(seconds(30));
  EXPECT_TRUE(report.update(kStart, totals({{DecodeError::UnknownVrid, 100000}})).empty());
  EXPECT_TRUE(
      report.update(kStart + seconds(60), totals({{DecodeError::UnknownVrid, 900000}})).empty());
}

}  // namespace
}  // namespace vipd::app
