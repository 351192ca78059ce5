// `vipd cleanup`'s part in the kernel: what a dead vipd left attached and pinned for one interface.
// Only vipd's own objects go: XDP programs and tc filters recognised by name at vipd's fixed tc
// handle, tc filters on other interfaces (lo, shared by every vipd of the namespace) only when
// they still run the program the dead run recorded, the clsact qdiscs it created (its markers),
// and its pin directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpf/tc_attach.h"

namespace vipd::bpf {

struct LeftoverRequest {
  std::string interface;
  std::string pin_dir;                 // <bpffs>/vipd/<interface>
  std::vector<TcFilters> recorded_tc;  // from the state file; may be empty
};

struct LeftoverReport {
  std::vector<std::string> removed;  // one line per object removed
  std::vector<std::string> errors;   // one line per object that could not be removed
};

LeftoverReport remove_leftovers(const LeftoverRequest& request);

}  // namespace vipd::bpf
