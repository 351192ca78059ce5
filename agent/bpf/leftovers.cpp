#include "bpf/leftovers.h"

#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf/bpffs.h"
#include "bpf/dataplane.h"
#include "bpf/prog_info.h"
#include "bpf/tc_attach.h"
#include "bpf/xdp_attach.h"

namespace vipd::bpf {
namespace {

constexpr TcFilterId kOurFilter{Dataplane::kTcHandle, Dataplane::kTcPriority};

const char* direction_name(TcDirection direction) {
  return direction == TcDirection::Ingress ? "ingress" : "egress";
}

// Our filter on one hook of `ifname`, if it runs `expected` (0: any vipd tc program).
void remove_tc(const std::string& ifname, TcDirection direction, std::uint32_t expected,
               const PinnedPrograms& pinned, LeftoverReport& report) {
  const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return;
  const std::uint32_t id = tc_filter_prog_id(ifindex, direction, kOurFilter);
  if (id == 0) return;
  if (expected != 0 ? id != expected : !is_vipd_tc_program(program_name(id, pinned))) return;
  detach_tc_filter(ifindex, direction, kOurFilter, id);
  if (tc_filter_prog_id(ifindex, direction, kOurFilter) == id) {
    report.errors.push_back("cannot remove vipd's tc " + std::string(direction_name(direction)) +
                            " filter (program id " + std::to_string(id) + ") from " + ifname);
    return;
  }
  report.removed.push_back("tc " + std::string(direction_name(direction)) + " filter on " + ifname +
                           " (program id " + std::to_string(id) + ")");
}

// A clsact qdisc the dead run created (its marker in the pin directory), if now empty.
void remove_clsact(const std::string& pin_dir, const std::string& ifname, LeftoverReport& report) {
  if (pin_dir.empty()) return;
  const std::string marker = pin_dir + "/clsact-created-" + bpffs_safe_name(ifname);
  struct stat info {};
  if (stat(marker.c_str(), &info) != 0) return;
  if (const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str())); ifindex != 0) {
    remove_clsact_if_empty(ifindex);
    report.removed.push_back("clsact qdisc vipd created on " + ifname + " (if no filter is left)");
  }
  rmdir(marker.c_str());
}

}  // namespace

LeftoverReport remove_leftovers(const LeftoverRequest& request) {
  LeftoverReport report;
  const PinnedPrograms pinned = PinnedPrograms::open(request.pin_dir);
  if (const int ifindex = static_cast<int>(if_nametoindex(request.interface.c_str()));
      ifindex != 0) {
    auto removed = detach_vipd_xdp_programs(ifindex, request.interface, pinned);
    if (!removed) {
      report.errors.push_back(removed.message());
    } else {
      for (const std::uint32_t id : *removed) {
        report.removed.push_back("XDP program on " + request.interface + " (id " +
                                 std::to_string(id) + ")");
      }
    }
  }
  for (const TcDirection direction : {TcDirection::Ingress, TcDirection::Egress}) {
    remove_tc(request.interface, direction, 0, pinned, report);
  }
  for (const TcFilters& recorded : request.recorded_tc) {
    if (recorded.ifname == request.interface) continue;
    if (recorded.ingress_prog_id != 0) {
      remove_tc(recorded.ifname, TcDirection::Ingress, recorded.ingress_prog_id, pinned, report);
    }
    if (recorded.egress_prog_id != 0) {
      remove_tc(recorded.ifname, TcDirection::Egress, recorded.egress_prog_id, pinned, report);
    }
  }
  remove_clsact(request.pin_dir, request.interface, report);
  for (const TcFilters& recorded : request.recorded_tc) {
    if (recorded.ifname != request.interface)
      remove_clsact(request.pin_dir, recorded.ifname, report);
  }
  if (!request.pin_dir.empty()) {
    struct stat info {};
    if (stat(request.pin_dir.c_str(), &info) == 0) {
      remove_stale_pins(request.pin_dir);
      remove_empty_directories(request.pin_dir, 2);
      report.removed.push_back("pins in " + request.pin_dir);
    }
  }
  return report;
}

}  // namespace vipd::bpf
