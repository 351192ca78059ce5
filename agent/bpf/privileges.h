// Why the kernel refused to load the programs: which of the capabilities BPF needs are missing
// from the effective set, or, when they are all held, that a filter (seccomp) refused bpf(2).
#pragma once

#include <cstdint>
#include <string>

namespace vipd::bpf {

// The calling thread's effective capability set as a bit mask (bit N = capability N), read with
// capget(2); 0 if it cannot be read.
std::uint64_t effective_capabilities();

// The clause that completes "bpf_object__load(...) failed: Operation not permitted (...)", naming
// what is missing, e.g. "CAP_PERFMON missing from the effective set; vipd needs CAP_BPF and
// CAP_PERFMON, or CAP_SYS_ADMIN".
std::string bpf_permission_hint(std::uint64_t effective);

}  // namespace vipd::bpf
