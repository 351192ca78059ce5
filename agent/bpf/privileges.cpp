#include "bpf/privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace vipd::bpf {
namespace {

bool held(std::uint64_t effective, int capability) {
  return (effective >> capability) & 1U;
}

}  // namespace

std::uint64_t effective_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return 0;
  return data[0].effective | (static_cast<std::uint64_t>(data[1].effective) << 32);
}

std::string bpf_permission_hint(std::uint64_t effective) {
  const bool bpf = held(effective, CAP_BPF);
  const bool perfmon = held(effective, CAP_PERFMON);
  if (held(effective, CAP_SYS_ADMIN) || (bpf && perfmon)) {
    // The capabilities are there, so the refusal came from a filter: container runtimes' default
    // seccomp profiles allow bpf(2) and perf_event_open(2) only with CAP_SYS_ADMIN.
    return std::string(held(effective, CAP_SYS_ADMIN) ? "CAP_SYS_ADMIN"
                                                      : "CAP_BPF and CAP_PERFMON") +
           " held, so a seccomp filter refused bpf(2): run with deploy/container/seccomp-vipd.json "
           "(docs/DEPLOY.md, Seccomp)";
  }
  const std::string missing = !bpf && !perfmon ? "CAP_BPF and CAP_PERFMON"
                              : !bpf           ? "CAP_BPF"
                                               : "CAP_PERFMON";
  return missing +
         " missing from the effective set; vipd needs CAP_BPF and CAP_PERFMON, or "
         "CAP_SYS_ADMIN";
}

}  // namespace vipd::bpf
