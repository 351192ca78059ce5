// tc clsact filters with restart safety: ours sit at one fixed handle and priority per hook, so a
// restart replaces them in place and never touches anyone else's filters.
#pragma once

#include <cstdint>
#include <string>

#include "bpf/prog_info.h"
#include "vipd/core/result.h"

namespace vipd::bpf {

enum class TcDirection : std::uint8_t { Ingress, Egress };

// vipd's filters on one interface, by the programs they run: what attach() reports, what the state
// file records, and what `vipd cleanup` checks a dead run's filters against before removing them.
struct TcFilters {
  std::string ifname;
  std::uint32_t ingress_prog_id = 0;
  std::uint32_t egress_prog_id = 0;
  friend bool operator==(const TcFilters&, const TcFilters&) = default;
};

struct TcFilterId {
  std::uint32_t handle;
  std::uint16_t priority;
};

// Creates the clsact qdisc unless it exists; true if this call created it.
core::Result<bool> ensure_clsact(int ifindex, const std::string& ifname);

// Attaches (or replaces our previous) filter; returns the attached program id. A filter at our
// handle and priority that is not a vipd program is refused; `pinned` recognises a previous run's
// program without CAP_SYS_ADMIN (see prog_info.h).
core::Result<std::uint32_t> attach_tc_filter(int ifindex, const std::string& ifname,
                                             TcDirection direction, int prog_fd, TcFilterId id,
                                             const PinnedPrograms& pinned = PinnedPrograms::none());

// Removes our filter if it still runs program `prog_id` (a later run may have replaced it).
void detach_tc_filter(int ifindex, TcDirection direction, TcFilterId id, std::uint32_t prog_id);

// The program id at our handle and priority, or 0.
std::uint32_t tc_filter_prog_id(int ifindex, TcDirection direction, TcFilterId id);

// Removes the clsact qdisc if neither hook has any filter left.
void remove_clsact_if_empty(int ifindex);

}  // namespace vipd::bpf
