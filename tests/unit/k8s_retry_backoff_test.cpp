// Retry delays of a failing API request: doubling to a ceiling, ±20 % spread, reset on success.
#include "k8s/retry_backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace vipd::k8s {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

void expect_within(core::Time delay, core::Time base) {
  EXPECT_GE(delay, base * 8 / 10);
  EXPECT_LE(delay, base * 12 / 10);
}

TEST(RetryBackoff, DoublesUpToTheCeilingWithSpread) {
  RetryBackoff backoff(milliseconds(500), seconds(30), 42);
  const core::Time expected[] = {milliseconds(500), seconds(1),  seconds(2),  seconds(4),
                                 seconds(8),        seconds(16), seconds(30), seconds(30)};
  for (const core::Time base : expected) expect_within(backoff.next(), base);
}

TEST(RetryBackoff, ResetStartsOver) {
  RetryBackoff backoff(milliseconds(500), seconds(30), 7);
  for (int i = 0; i < 6; ++i) backoff.next();
  backoff.reset();
  expect_within(backoff.next(), milliseconds(500));
}

TEST(RetryBackoff, NodesSpreadTheirRetries) {
  // Nodes that lost the API at the same moment must not all retry at the same instant.
  std::set<core::Time> first_delays;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    first_delays.insert(RetryBackoff(seconds(1), seconds(30), seed * 7919).next());
  }
  EXPECT_GT(first_delays.size(), 15u);
}

}  // namespace
}  // namespace vipd::k8s
