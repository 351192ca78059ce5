// Reads what planning needs from the host (interface, its addresses, MAC) without changing
// anything.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/options.h"
#include "config/plan.h"

namespace vipd::app {

// nullopt with `errors` filled when the interface is missing or netlink is unavailable.
// `also_not_primary`: addresses never taken for the primary one, beside the configured VIPs.
std::optional<config::HostFacts> read_host_facts(
    const config::RunOptions& options, std::vector<std::string>& errors,
    const std::vector<core::IpAddress>& also_not_primary = {});
// Scripts the plan runs must exist and be executable; the ServiceAccount files it reads must be
// readable.
void check_host_paths(const config::Plan& plan, std::vector<std::string>& errors);

}  // namespace vipd::app
