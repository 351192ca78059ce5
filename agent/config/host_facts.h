// Reads what planning needs from the host (interface, its addresses, MAC) without changing
// anything.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/options.h"
#include "config/plan.h"

namespace vipd::config {

// nullopt with `errors` filled when the interface is missing or netlink is unavailable.
std::optional<HostFacts> read_host_facts(const RunOptions& options,
                                         std::vector<std::string>& errors);
// Scripts the plan runs must exist and be executable; the ServiceAccount files it reads must be
// readable.
void check_host_paths(const Plan& plan, std::vector<std::string>& errors);

}  // namespace vipd::config
