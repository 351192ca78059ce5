// run_and_wait: the firewall's and other one-shot tools' runner — exit status reported, a hung tool
// killed at the timeout and reaped (no zombie left behind).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <utility>

#include "proc/child_process.h"

namespace vipd::proc {
namespace {

using namespace std::chrono_literals;

TEST(RunAndWait, SuccessIsOk) {
  EXPECT_TRUE(run_and_wait({"/bin/true"}, 5s).ok());
}

TEST(RunAndWait, AFailureNamesTheToolAndItsStatus) {
  EXPECT_EQ(run_and_wait({"/bin/sh", "-c", "exit 3"}, 5s).message(),
            "/bin/sh exited with status 3");
}

TEST(RunAndWait, AMissingToolIsReported) {
  const std::string error = run_and_wait({"/nonexistent/vipd-tool"}, 5s).message();
  EXPECT_NE(error.find("/nonexistent/vipd-tool"), std::string::npos) << error;
}

TEST(RunAndWait, AHungToolIsKilledAtTheTimeoutAndReaped) {
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(run_and_wait({"/bin/sleep", "30"}, 200ms).message(),
            "/bin/sleep did not finish in time");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "the timeout was not honoured";
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "a child is left to reap";
  EXPECT_EQ(errno, ECHILD);
}

// A ChildProcess moved into another (one kept in a container moves) hands over the pid and the
// pidfd: the new owner can wait on and reap the child; the old one is no longer running.
TEST(ChildProcessTest, AMoveHandsTheChildAndItsPidfdToTheNewOwner) {
  ChildProcess first;
  ASSERT_TRUE(first.spawn({"/bin/true"}).ok());
  const pid_t pid = first.pid();
  const int pidfd = first.pidfd();
  ChildProcess second(std::move(first));
  EXPECT_FALSE(first.running());  // NOLINT(bugprone-use-after-move): moved-from is checked
  EXPECT_EQ(first.pidfd(), -1);   // NOLINT(bugprone-use-after-move)
  ASSERT_TRUE(second.running());
  EXPECT_EQ(second.pid(), pid);
  EXPECT_EQ(second.pidfd(), pidfd);
  pollfd exited{second.pidfd(), POLLIN, 0};
  ASSERT_EQ(poll(&exited, 1, 5000), 1) << "the pidfd did not turn readable";
  ChildProcess third;
  third = std::move(second);
  const std::optional<int> status = third.reap();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_FALSE(third.running());
  EXPECT_EQ(third.pidfd(), -1) << "a reaped child's pidfd is closed";
}

}  // namespace
}  // namespace vipd::proc
