// Timer arithmetic of RFC 3768 / RFC 5798 / RFC 9568 section 6 and the effective priority.
#include "vipd/core/timing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <string>

namespace vipd::core {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kSecondNs = 1'000'000'000;

struct TimerCase {
  VrrpVersion version;
  std::uint8_t priority;
  Time interval;
  Time expected_skew;
  Time expected_master_down;
};

std::string describe(const TimerCase& c) {
  return "v" + std::to_string(static_cast<int>(c.version)) + " priority " +
         std::to_string(c.priority) + " interval " + std::to_string(c.interval.count()) + " ns";
}

TEST(TimingTest, SkewAndMasterDownIntervalMatchTheRfcFormulas) {
  const TimerCase cases[] = {
      // v2: Skew_Time = (256 - P) / 256 s, whatever the advert interval.
      {VrrpVersion::V2, 100, 1s, 609'375'000ns, 3'609'375'000ns},
      {VrrpVersion::V2, 100, 5s, 609'375'000ns, 15'609'375'000ns},
      {VrrpVersion::V2, 150, 1s, 414'062'500ns, 3'414'062'500ns},
      {VrrpVersion::V2, 1, 1s, 996'093'750ns, 3'996'093'750ns},
      {VrrpVersion::V2, 254, 1s, 7'812'500ns, 3'007'812'500ns},
      {VrrpVersion::V2, 255, 1s, 3'906'250ns, 3'003'906'250ns},
      {VrrpVersion::V2, 100, 255s, 609'375'000ns, 765'609'375'000ns},
      // v3: Skew_Time = (256 - P) * Master_Adver_Interval / 256, in nanoseconds.
      {VrrpVersion::V3, 100, 1s, 609'375'000ns, 3'609'375'000ns},
      {VrrpVersion::V3, 100, 100ms, 60'937'500ns, 360'937'500ns},
      {VrrpVersion::V3, 100, 10ms, 6'093'750ns, 36'093'750ns},
      {VrrpVersion::V3, 200, 10ms, 2'187'500ns, 32'187'500ns},
      {VrrpVersion::V3, 254, 10ms, 78'125ns, 30'078'125ns},
      {VrrpVersion::V3, 255, 10ms, 39'062ns, 30'039'062ns},  // 39062.5 ns, truncated
      {VrrpVersion::V3, 1, 40'950ms, 40'790'039'062ns, 163'640'039'062ns},
  };
  for (const TimerCase& c : cases) {
    SCOPED_TRACE(describe(c));
    EXPECT_EQ(skew_time(c.version, c.priority, c.interval), c.expected_skew);
    EXPECT_EQ(master_down_interval(c.version, c.priority, c.interval), c.expected_master_down);
  }
}

TEST(TimingTest, V2SkewIgnoresTheAdvertInterval) {
  for (int p = 1; p <= 255; ++p) {
    const auto priority = static_cast<std::uint8_t>(p);
    const Time one_second_skew = skew_time(VrrpVersion::V2, priority, 1s);
    EXPECT_EQ(one_second_skew, Time((256 - p) * kSecondNs / 256)) << "p" << p;
    EXPECT_EQ(skew_time(VrrpVersion::V2, priority, 7s), one_second_skew) << "p" << p;
    EXPECT_EQ(skew_time(VrrpVersion::V2, priority, 255s), one_second_skew) << "p" << p;
  }
}

// The v3 skew is the exact rational (256 - P) * MAI / 256 rounded down to a nanosecond, not
// truncated to centiseconds: less than 1 ns below the exact value.
TEST(TimingTest, V3SkewIsExactToTheNanosecond) {
  const Time intervals[] = {10ms, 20ms, 30ms, 110ms, 1s, 1'230ms, 40'950ms};
  for (const Time interval : intervals) {
    for (int p = 1; p <= 255; ++p) {
      const Time skew = skew_time(VrrpVersion::V3, static_cast<std::uint8_t>(p), interval);
      const std::int64_t exact_times_256 = (256 - p) * interval.count();
      EXPECT_LE(skew.count() * 256, exact_times_256) << "p" << p << " " << interval.count();
      EXPECT_GT(skew.count() * 256 + 256, exact_times_256) << "p" << p << " " << interval.count();
    }
  }
}

// keepalived truncates the v3 skew to whole centiseconds: at 10 ms adverts every backup then has a
// skew of 0 and all fire together. Here a higher priority must always fire strictly earlier.
TEST(TimingTest, DistinctPrioritiesGiveDistinctSkewsEvenAtTenMilliseconds) {
  const Time intervals[] = {10ms, 100ms, 1s, 40'950ms};
  for (const VrrpVersion version : {VrrpVersion::V2, VrrpVersion::V3}) {
    for (const Time interval : intervals) {
      for (int p = 1; p < 255; ++p) {
        const auto lower = static_cast<std::uint8_t>(p);
        const auto higher = static_cast<std::uint8_t>(p + 1);
        EXPECT_GT(skew_time(version, lower, interval), skew_time(version, higher, interval))
            << "v" << static_cast<int>(version) << " p" << p << " " << interval.count() << " ns";
        EXPECT_GT(master_down_interval(version, lower, interval),
                  master_down_interval(version, higher, interval))
            << "v" << static_cast<int>(version) << " p" << p << " " << interval.count() << " ns";
      }
      EXPECT_GT(skew_time(version, 255, interval), Time{0});
    }
  }
}

TEST(TimingTest, V3SkewScalesWithTheLearnedInterval) {
  EXPECT_EQ(skew_time(VrrpVersion::V3, 100, 2s), 2 * skew_time(VrrpVersion::V3, 100, 1s));
  EXPECT_EQ(skew_time(VrrpVersion::V3, 100, 500ms), skew_time(VrrpVersion::V3, 100, 1s) / 2);
  EXPECT_EQ(master_down_interval(VrrpVersion::V3, 100, 500ms), 1'804'687'500ns);
}

TEST(TimingTest, CentisecondConversionsRoundTripTheWholeV3Range) {
  EXPECT_EQ(from_centiseconds(1), 10ms);
  EXPECT_EQ(from_centiseconds(100), 1s);
  EXPECT_EQ(from_centiseconds(kMaxIntervalCs), 40'950ms);
  EXPECT_EQ(to_centiseconds(10ms), 1);
  EXPECT_EQ(to_centiseconds(1s), 100);
  EXPECT_EQ(to_centiseconds(40'950ms), 4095);
  for (int cs = 1; cs <= kMaxIntervalCs; ++cs) {
    const auto value = static_cast<std::uint16_t>(cs);
    EXPECT_EQ(to_centiseconds(from_centiseconds(value)), value);
  }
}

struct PriorityCase {
  std::uint8_t base;
  int weight_sum;
  std::uint8_t expected;
};

TEST(TimingTest, EffectivePriorityAddsWeightsAndClampsToBackupRange) {
  // A backup never reaches 255 (address owner) nor 0 ("stopping") by weight; the owner is never
  // adjusted; extreme sums must not overflow.
  // clang-format off
  const PriorityCase cases[] = {
      {100, 0, 100},
      {100, 50, 150},
      {100, -50, 50},
      {100, 154, 254},
      {100, 155, 254},
      {100, 253, 254},
      {100, -99, 1},
      {100, -100, 1},
      {100, -253, 1},
      {1, -1, 1},
      {254, 1, 254},
      {254, -253, 1},
      {100, INT_MAX, 254},
      {100, INT_MIN, 1},
      {255, 0, 255},
      {255, -100, 255},
      {255, 10, 255},
      {255, INT_MIN, 255},
  };  // clang-format on

  for (const PriorityCase& c : cases) {
    EXPECT_EQ(effective_priority(c.base, c.weight_sum), c.expected)
        << "base " << int{c.base} << " weights " << c.weight_sum;
  }
}

}  // namespace
}  // namespace vipd::core
