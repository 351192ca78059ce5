// `vipd run`'s start-up check: the capabilities it cannot work without (CAP_NET_ADMIN for the VIPs
// and the XDP/tc attach, CAP_NET_RAW for the VRRP socket and gratuitous ARP) must be effective,
// or it stops with one line naming them before touching the host. CAP_BPF and CAP_PERFMON are not
// checked here: without them vipd falls back to a raw socket, and that log line names them.
#pragma once

#include <cstdint>
#include <string>

namespace vipd::app {

// Exit code of `vipd run` when a required capability is missing (2 is a bad configuration).
constexpr int kExitMissingCapability = 1;

// Empty when CAP_NET_ADMIN and CAP_NET_RAW are both in `effective` (bit N = capability N);
// otherwise the one-line error naming the missing ones.
std::string missing_run_capabilities(std::uint64_t effective);

}  // namespace vipd::app
