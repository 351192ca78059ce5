#include "bpf/xdp_attach.h"

#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <vector>

#include "bpf/prog_info.h"
#include "vipd/core/unique_fd.h"

namespace vipd::bpf {
namespace {

struct AttachedProgram {
  XdpMode mode;
  std::uint32_t id;
};

std::uint32_t mode_flag(XdpMode mode) {
  return mode == XdpMode::Generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

void set_replace_opts(bpf_xdp_attach_opts& opts, int old_prog_fd) {
  clear_opts(opts);
  opts.old_prog_fd = old_prog_fd;
}

// Removes exactly program `id` in `mode`; a concurrent change makes the kernel refuse instead.
int detach_by_id(int ifindex, const AttachedProgram& program, const PinnedPrograms& pinned) {
  core::UniqueFd old(program_fd(program.id, pinned));
  if (!old.valid()) return 0;  // already gone
  bpf_xdp_attach_opts opts;
  set_replace_opts(opts, old.get());
  return bpf_xdp_detach(ifindex, mode_flag(program.mode) | XDP_FLAGS_REPLACE, &opts);
}

core::Result<std::vector<AttachedProgram>> attached_programs(int ifindex, const std::string& ifname,
                                                             const PinnedPrograms& pinned) {
  bpf_xdp_query_opts query;
  clear_opts(query);
  if (int error = bpf_xdp_query(ifindex, 0, &query)) {
    return core::Error{"bpf_xdp_query on " + ifname + " failed: " + core::errno_text(error)};
  }
  if (query.hw_prog_id) {
    return core::Error{ifname + " has an offloaded XDP program (id " +
                       std::to_string(query.hw_prog_id) + "); refusing to attach next to it"};
  }
  std::vector<AttachedProgram> programs;
  if (query.drv_prog_id) programs.push_back({XdpMode::Native, query.drv_prog_id});
  if (query.skb_prog_id) programs.push_back({XdpMode::Generic, query.skb_prog_id});
  for (const AttachedProgram& program : programs) {
    std::string name = program_name(program.id, pinned);
    if (is_vipd_xdp_program(name)) continue;
    return core::Error{
        ifname + " already has XDP program '" + name + "' (id " + std::to_string(program.id) +
        ", " + std::string(to_string(program.mode)) +
        " mode) that is not vipd's; refusing to replace it (remove it with `ip link set "
        "dev " +
        ifname + " xdp off` if it is unwanted)"};
  }
  return programs;
}

std::uint32_t stale_id_in(const std::vector<AttachedProgram>& stale, XdpMode mode) {
  for (const AttachedProgram& program : stale) {
    if (program.mode == mode) return program.id;
  }
  return 0;
}

int attach_in_mode(int ifindex, int prog_fd, XdpMode mode, std::uint32_t stale_id,
                   const PinnedPrograms& pinned) {
  if (!stale_id) {
    return bpf_xdp_attach(ifindex, prog_fd, mode_flag(mode) | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  }
  core::UniqueFd old(program_fd(stale_id, pinned));
  bpf_xdp_attach_opts opts;
  set_replace_opts(opts, old.get());
  return bpf_xdp_attach(ifindex, prog_fd, mode_flag(mode) | XDP_FLAGS_REPLACE, &opts);
}

}  // namespace

std::string_view to_string(XdpMode mode) {
  switch (mode) {
    case XdpMode::Auto:
      return "auto";
    case XdpMode::Native:
      return "native";
    case XdpMode::Generic:
      return "generic";
  }
  return "?";
}

core::Result<XdpAttachment> attach_xdp_program(int ifindex, const std::string& ifname, int prog_fd,
                                               XdpMode requested, const PinnedPrograms& pinned) {
  core::Result<std::vector<AttachedProgram>> stale = attached_programs(ifindex, ifname, pinned);
  if (!stale) return core::Error{stale.message()};
  std::vector<XdpMode> order;
  if (requested == XdpMode::Auto) {
    order = {XdpMode::Native, XdpMode::Generic};
  } else {
    order = {requested};
  }
  const bool replaced = !stale->empty();
  // Native and generic cannot be active together: a stale copy in the other mode goes first, and
  // is then no longer there to be replaced (should the first mode fail and that one be tried).
  for (const AttachedProgram& program : *stale) {
    if (program.mode == order.front()) continue;
    if (int error = detach_by_id(ifindex, program, pinned)) {
      return core::Error{"removing the stale vipd XDP program from " + ifname +
                         " failed: " + core::errno_text(error)};
    }
  }
  std::erase_if(*stale, [&](const AttachedProgram& p) { return p.mode != order.front(); });
  std::string failures;
  for (XdpMode mode : order) {
    std::uint32_t stale_id = stale_id_in(*stale, mode);
    int error = attach_in_mode(ifindex, prog_fd, mode, stale_id, pinned);
    if (error == 0) return XdpAttachment{mode, program_id(prog_fd), replaced};
    failures += std::string(failures.empty() ? "" : "; ") + std::string(to_string(mode)) + ": " +
                core::errno_text(error);
    if (stale_id) detach_by_id(ifindex, {mode, stale_id}, pinned);  // let the next mode in
  }
  return core::Error{"attaching XDP to " + ifname + " failed (" + failures + ")"};
}

core::Result<std::vector<std::uint32_t>> detach_vipd_xdp_programs(int ifindex,
                                                                  const std::string& ifname,
                                                                  const PinnedPrograms& pinned) {
  bpf_xdp_query_opts query;
  clear_opts(query);
  if (int error = bpf_xdp_query(ifindex, 0, &query)) {
    return core::Error{"bpf_xdp_query on " + ifname + " failed: " + core::errno_text(error)};
  }
  std::vector<std::uint32_t> removed;
  for (const AttachedProgram program : {AttachedProgram{XdpMode::Native, query.drv_prog_id},
                                        AttachedProgram{XdpMode::Generic, query.skb_prog_id}}) {
    if (program.id == 0 || !is_vipd_xdp_program(program_name(program.id, pinned))) continue;
    if (int error = detach_by_id(ifindex, program, pinned)) {
      return core::Error{"removing vipd's XDP program (id " + std::to_string(program.id) +
                         ") from " + ifname + " failed: " + core::errno_text(error)};
    }
    removed.push_back(program.id);
  }
  return removed;
}

void detach_xdp_program(int ifindex, int prog_fd, XdpMode mode) {
  bpf_xdp_attach_opts opts;
  set_replace_opts(opts, prog_fd);
  bpf_xdp_detach(ifindex, mode_flag(mode) | XDP_FLAGS_REPLACE, &opts);
}

}  // namespace vipd::bpf
