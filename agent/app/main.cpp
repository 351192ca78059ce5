// vipd command line: `run` (the daemon), `check-config`, `status`, `version`.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/capabilities.h"
#include "app/daemon.h"
#include "app/host_facts.h"
#include "app/plan_view.h"
#include "app/status_view.h"
#include "app/version.h"
#include "bpf/privileges.h"
#include "config/options.h"
#include "config/plan.h"
#include "log/journal.h"
#include "log/log.h"

namespace {

constexpr int kExitBadConfig = 2;

// Levels, text or JSON lines, journald priorities when stdout is the journal (agent/log/log.h).
// The options were validated by resolve().
void setup_logging(const vipd::config::RunOptions& options) {
  vipd::log::Options log_options;
  log_options.level = vipd::log::parse_level(options.log_level).value_or(vipd::log::Level::info);
  log_options.format =
      vipd::log::parse_format(options.log_format).value_or(vipd::log::Format::text);
  log_options.journal = vipd::log::stdout_is_journal();
  vipd::log::setup(log_options);
}

// Flags, environment and config file resolved against the host, exactly as `run` does it.
vipd::config::PlanResult resolve(const vipd::config::RunOptions& options) {
  vipd::config::PlanResult planned;
  std::vector<std::string> errors;
  const auto facts = vipd::app::read_host_facts(options, errors);
  if (facts) planned = vipd::config::build_plan(options, *facts);
  planned.errors.insert(planned.errors.begin(), errors.begin(), errors.end());
  if (!vipd::log::parse_level(options.log_level)) {
    planned.errors.push_back("invalid log level '" + options.log_level +
                             "' (trace, debug, info, warn, error)");
  }
  if (!vipd::log::parse_format(options.log_format)) {
    planned.errors.push_back("invalid log format '" + options.log_format + "' (text, json)");
  }
  if (planned.ok()) vipd::app::check_host_paths(planned.plan, planned.errors);
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
  setup_logging(options);
  spdlog::info("Starting vipd {} on {} ({} instance(s), source {}, {})", vipd::app::version_short(),
               planned.plan.interface, planned.plan.instances.size(),
               planned.plan.source.to_string(), vipd::config::transport_name(planned.plan));
  for (const std::string& note : planned.plan.notes) spdlog::info("{}", note);
  vipd::app::Daemon daemon(std::move(planned.plan));
  const int code = daemon.run();
  vipd::log::shutdown();  // pending "suppressed N similar messages" lines
  return code;
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
  // `vipd --version` (as `vipd version`); --help-all: every command's options at once.
  app.set_version_flag("--version", [] {
    std::string text = vipd::app::version_text();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  });
  app.set_help_all_flag("--help-all", "Print help for every command and option, then exit");

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
