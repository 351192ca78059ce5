// run_and_wait: the firewall's and other one-shot tools' runner — exit status reported, a hung tool
// killed at the timeout and reaped (no zombie left behind).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>

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

}  // namespace
}  // namespace vipd::proc
