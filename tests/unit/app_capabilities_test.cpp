// The start-up capability check of `vipd run` and the hint in the eBPF fallback line: which
// capability each names, on effective sets built by hand, and the capget(2) reading itself in a
// child process that dropped capabilities.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/capabilities.h"
#include "bpf/privileges.h"

namespace vipd::app {
namespace {

constexpr std::uint64_t bit(int capability) {
  return std::uint64_t{1} << capability;
}
constexpr std::uint64_t kFour =
    bit(CAP_NET_ADMIN) | bit(CAP_NET_RAW) | bit(CAP_BPF) | bit(CAP_PERFMON);

TEST(RunCapabilities, NetAdminAndNetRawAreEnough) {
  EXPECT_EQ(missing_run_capabilities(bit(CAP_NET_ADMIN) | bit(CAP_NET_RAW)), "");
  EXPECT_EQ(missing_run_capabilities(kFour), "");
  EXPECT_EQ(missing_run_capabilities(~std::uint64_t{0}), "");
}

TEST(RunCapabilities, NamesTheMissingOne) {
  const std::string line = missing_run_capabilities(kFour & ~bit(CAP_NET_RAW));
  EXPECT_EQ(line.find("CAP_NET_RAW is missing from the effective capability set"), 0U) << line;
  EXPECT_EQ(line.find("CAP_NET_ADMIN"), std::string::npos) << line;
  EXPECT_NE(line.find("NET_RAW)"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);

  const std::string admin = missing_run_capabilities(kFour & ~bit(CAP_NET_ADMIN));
  EXPECT_EQ(admin.find("CAP_NET_ADMIN is missing"), 0U) << admin;
  EXPECT_EQ(admin.find("CAP_NET_RAW"), std::string::npos) << admin;
}

TEST(RunCapabilities, NamesBothWhenBothAreMissing) {
  const std::string line = missing_run_capabilities(bit(CAP_BPF) | bit(CAP_PERFMON));
  EXPECT_EQ(line.find("CAP_NET_ADMIN and CAP_NET_RAW are missing"), 0U) << line;
  EXPECT_EQ(missing_run_capabilities(0).find("CAP_NET_ADMIN and CAP_NET_RAW"), 0U);
}

TEST(BpfPermissionHint, NamesTheMissingBpfCapability) {
  const std::uint64_t net = bit(CAP_NET_ADMIN) | bit(CAP_NET_RAW);
  EXPECT_EQ(bpf::bpf_permission_hint(net | bit(CAP_BPF)).find("CAP_PERFMON missing"), 0U);
  EXPECT_EQ(bpf::bpf_permission_hint(net | bit(CAP_PERFMON)).find("CAP_BPF missing"), 0U);
  EXPECT_EQ(bpf::bpf_permission_hint(net).find("CAP_BPF and CAP_PERFMON missing"), 0U);
}

TEST(BpfPermissionHint, AllCapabilitiesHeldMeansAFilterRefused) {
  const std::string four = bpf::bpf_permission_hint(kFour);
  EXPECT_EQ(four.find("CAP_BPF and CAP_PERFMON held, so a seccomp filter refused bpf(2)"), 0U)
      << four;
  EXPECT_NE(four.find("seccomp-vipd.json"), std::string::npos) << four;
  const std::string admin = bpf::bpf_permission_hint(bit(CAP_SYS_ADMIN));
  EXPECT_EQ(admin.find("CAP_SYS_ADMIN held"), 0U) << admin;
}

// capget(2) as the daemon reads it: a child drops CAP_NET_RAW from its effective set (it stays
// permitted) and reports what effective_capabilities() then says.
TEST(EffectiveCapabilities, ReadsTheThreadsEffectiveSet) {
  const std::uint64_t before = bpf::effective_capabilities();
  if ((before & bit(CAP_NET_RAW)) == 0) GTEST_SKIP() << "needs CAP_NET_RAW (run as root)";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    std::uint64_t seen = 0;
    if (syscall(SYS_capget, &header, data) == 0) {
      data[0].effective &= ~(1U << CAP_NET_RAW);
      if (syscall(SYS_capset, &header, data) == 0) seen = bpf::effective_capabilities();
    }
    const ssize_t written = write(pipefd[1], &seen, sizeof seen);
    _exit(written == sizeof seen ? 0 : 1);
  }
  std::uint64_t seen = 0;
  ASSERT_EQ(read(pipefd[0], &seen, sizeof seen), static_cast<ssize_t>(sizeof seen));
  int status = 0;
  waitpid(child, &status, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  EXPECT_EQ(seen, before & ~bit(CAP_NET_RAW));
  EXPECT_EQ(missing_run_capabilities(seen).find("CAP_NET_RAW is missing"), 0U);
}

}  // namespace
}  // namespace vipd::app
