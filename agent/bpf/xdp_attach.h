// XDP attachment with restart safety: exactly one program per interface, ours replaced in place,
// anyone else's refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bpf/prog_info.h"
#include "vipd/core/result.h"

namespace vipd::bpf {

enum class XdpMode : std::uint8_t {
  Auto,  // native (driver) mode where the driver supports it, else generic
  Native,
  Generic,
};
std::string_view to_string(XdpMode mode);

struct XdpAttachment {
  XdpMode mode = XdpMode::Native;  // Native or Generic
  std::uint32_t prog_id = 0;
  bool replaced_stale = false;
};

// `pinned`: the programs a previous run pinned, to recognise and replace its leftover without
// CAP_SYS_ADMIN (see prog_info.h).
core::Result<XdpAttachment> attach_xdp_program(
    int ifindex, const std::string& ifname, int prog_fd, XdpMode requested,
    const PinnedPrograms& pinned = PinnedPrograms::none());

// Removes `prog_fd` from `ifindex` if it is still the attached program in `mode`.
void detach_xdp_program(int ifindex, int prog_fd, XdpMode mode);

// `vipd cleanup`: removes every vipd XDP program (recognised by name, see prog_info.h) attached to
// `ifindex` in any mode, and returns their ids; anyone else's program stays.
core::Result<std::vector<std::uint32_t>> detach_vipd_xdp_programs(
    int ifindex, const std::string& ifname, const PinnedPrograms& pinned = PinnedPrograms::none());

}  // namespace vipd::bpf
