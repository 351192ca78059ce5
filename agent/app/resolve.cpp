#include "app/resolve.h"

#include <CLI/CLI.hpp>

#include "app/host_facts.h"
#include "log/log.h"
#include "metrics/listen_address.h"

namespace vipd::app {

config::PlanResult resolve(const config::RunOptions& options,
                           const std::vector<core::IpAddress>& also_not_primary) {
  config::PlanResult planned;
  std::vector<std::string> errors;
  const auto facts = read_host_facts(options, errors, also_not_primary);
  if (facts) planned = config::build_plan(options, *facts);
  planned.errors.insert(planned.errors.begin(), errors.begin(), errors.end());
  if (!log::parse_level(options.log_level)) {
    planned.errors.push_back("invalid log level '" + options.log_level +
                             "' (trace, debug, info, warn, error)");
  }
  if (!log::parse_format(options.log_format)) {
    planned.errors.push_back("invalid log format '" + options.log_format + "' (text, json)");
  }
  if (const auto address = metrics::parse_listen_address(options.metrics_address); !address) {
    planned.errors.push_back(address.message());
  }
  if (planned.ok()) check_host_paths(planned.plan, planned.errors);
  return planned;
}

RunOptionsResult reparse_run_options(const std::vector<std::string>& argv) {
  RunOptionsResult result;
  std::vector<const char*> pointers;
  pointers.reserve(argv.size());
  for (const std::string& arg : argv) pointers.push_back(arg.c_str());
  const int argc = static_cast<int>(pointers.size());
  CLI::App app;
  app.allow_extras();  // the other commands' options are not registered here
  config::CommandOptions commands;
  config::add_run_commands(app, commands);
  if (auto errors = config::apply_config_file(argc, pointers.data(), commands); !errors.empty()) {
    result.errors = std::move(errors);
    return result;
  }
  try {
    app.parse(argc, pointers.data());
  } catch (const CLI::ParseError& error) {
    result.errors.push_back(error.what());
    return result;
  }
  result.options = config::parsed_run_options(app, commands);
  return result;
}

}  // namespace vipd::app
