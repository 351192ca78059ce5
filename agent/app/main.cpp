// vipd command line: `run` (the daemon), `check-config`, `status`, `version`.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/capabilities.h"
#include "app/daemon.h"
#include "app/plan_view.h"
#include "app/status_view.h"
#include "app/version.h"
#include "bpf/privileges.h"
#include "config/host_facts.h"
#include "config/options.h"
#include "config/plan.h"

namespace {

constexpr int kExitBadConfig = 2;

void setup_logging(const std::string& level) {
  auto logger = spdlog::stdout_logger_mt("vipd");
  logger->set_pattern("%a %b %d %H:%M:%S.%e %Y: %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

// Flags, environment and config file resolved against the host, exactly as `run` does it.
vipd::config::PlanResult resolve(const vipd::config::RunOptions& options) {
  vipd::config::PlanResult planned;
  std::vector<std::string> errors;
  const auto facts = vipd::config::read_host_facts(options, errors);
  if (facts) planned = vipd::config::build_plan(options, *facts);
  planned.errors.insert(planned.errors.begin(), errors.begin(), errors.end());
  static const std::array<std::string, 5> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), options.log_level) == kLevels.end()) {
    planned.errors.push_back("invalid log level '" + options.log_level +
                             "' (trace, debug, info, warn, error)");
  }
  if (planned.ok()) vipd::config::check_host_paths(planned.plan, planned.errors);
  return planned;
}

int run_daemon(const vipd::config::RunOptions& options) {
  vipd::config::PlanResult planned = resolve(options);
  if (!planned.ok()) {
    for (const std::string& error : planned.errors) std::cerr << "vipd: " << error << "\n";
    return kExitBadConfig;
  }
  // Before anything touches the host: without these vipd would fail on its first netlink call.
  if (const std::string missing =
          vipd::app::missing_run_capabilities(vipd::bpf::effective_capabilities());
      !missing.empty()) {
    std::cerr << "vipd: " << missing << "\n";
    return vipd::app::kExitMissingCapability;
  }
  setup_logging(options.log_level);
  spdlog::info("Starting vipd {} on {} ({} instance(s), source {}, {})", vipd::app::version_short(),
               planned.plan.interface, planned.plan.instances.size(),
               planned.plan.source.to_string(),
               planned.plan.unicast_peers.empty() ? "multicast" : "unicast");
  for (const std::string& note : planned.plan.notes) spdlog::info("{}", note);
  vipd::app::Daemon daemon(std::move(planned.plan));
  return daemon.run();
}

int check_config(const vipd::config::RunOptions& options, bool json) {
  const vipd::config::PlanResult planned = resolve(options);
  if (json) {
    std::fputs(vipd::app::plan_json(planned.plan, planned.errors).c_str(), stdout);
  } else if (planned.ok()) {
    std::fputs(vipd::app::plan_text(planned.plan).c_str(), stdout);
  } else {
    for (const std::string& error : planned.errors) std::cerr << "vipd: " << error << "\n";
  }
  return planned.ok() ? 0 : kExitBadConfig;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vipd: eBPF-assisted VRRP agent keeping virtual IPs alive"};
  app.require_subcommand(1);

  vipd::config::CommandOptions commands;
  vipd::config::add_run_commands(app, commands);

  vipd::app::StatusOptions status_options;
  auto* status = app.add_subcommand("status", "Show the state of a running vipd");
  vipd::app::add_status_options(*status, status_options);

  app.add_subcommand("version", "Print version, git commit and libbpf version");

  // The config file goes in first; environment and flags parsed next override it.
  if (const auto errors = vipd::config::apply_config_file(argc, argv, commands); !errors.empty()) {
    for (const std::string& error : errors) std::cerr << "vipd: " << error << "\n";
    return kExitBadConfig;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);
    std::cerr << "vipd: " << error.what() << "\n";
    return kExitBadConfig;
  }
  if (app.got_subcommand("version")) {
    std::fputs(vipd::app::version_text().c_str(), stdout);
    return 0;
  }
  if (app.got_subcommand("status")) return vipd::app::show_status(status_options);
  const vipd::config::RunOptions& options = vipd::config::parsed_run_options(app, commands);
  if (app.got_subcommand("check-config")) return check_config(options, commands.json);
  return run_daemon(options);
}
