// From a command line to a validated plan, the one way `check-config`, `run` and a reload read
// the settings: flags over environment over config file over defaults, resolved against the host.
#pragma once

#include <string>
#include <vector>

#include "config/options.h"
#include "config/plan.h"

namespace vipd::app {

// Flags, environment and config file resolved against the host, exactly as `run` does it; every
// problem is one line in `errors`. `also_not_primary`: addresses to skip when looking for the
// interface's primary address, beside the plan's own VIPs (a reload passes the VIPs it holds, some
// of which the new plan may no longer list).
config::PlanResult resolve(const config::RunOptions& options,
                           const std::vector<core::IpAddress>& also_not_primary = {});

// `run`'s options read again from the original command line: the config file it names (read
// anew), the process environment and the same flags. Parse errors are returned one per line.
struct RunOptionsResult {
  config::RunOptions options;
  std::vector<std::string> errors;
};
RunOptionsResult reparse_run_options(const std::vector<std::string>& argv);

}  // namespace vipd::app
