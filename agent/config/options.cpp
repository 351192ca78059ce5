#include "config/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

namespace vipd::config {
namespace {

// Binds `option` to `env` unless this is the config-file pass.
CLI::Option* env(CLI::Option* option, const char* name, bool with_env) {
  if (with_env) option->envname(name);
  return option;
}

}  // namespace

void add_run_options(CLI::App& c, RunOptions& o, bool e) {
  c.add_option("--config", "Config file (TOML/INI: option = value), overridden by env and flags")
      ->envname("VIPD_CONFIG");
  env(c.add_option("--interface,-i", o.interface,
                   "Interface for VRRP and the VIPs (default: the default route's)"),
      "OPENSHIFT_HA_NETWORK_INTERFACE", e);
  env(c.add_option("--vips", o.vips,
                   "VIPs: comma or space separated, ranges a.b.c.X-Y, optional /prefix"),
      "OPENSHIFT_HA_VIRTUAL_IPS", e);
  env(c.add_option("--vip-groups", o.vip_groups,
                   "Spread the VIPs over this many instances (0: one per VIP)")
          ->capture_default_str(),
      "OPENSHIFT_HA_VIP_GROUPS", e);
  env(c.add_option("--vrrp-id-offset", o.vrrp_id_offset, "VRID = offset + instance number")
          ->capture_default_str(),
      "OPENSHIFT_HA_VRRP_ID_OFFSET", e);
  env(c.add_option("--excluded-vrids", o.excluded_vrids, "VRIDs to skip (space or comma list)"),
      "HA_EXCLUDED_VRRP_IDS", e);
  env(c.add_option("--vrid", o.vrid,
                   "VRID of the first instance, overriding the offset (0: offset + 1)"),
      "VIPD_VRID", e);
  env(c.add_option("--replica-count", o.replica_count, "Replicas, for ipfailover's priority scheme")
          ->capture_default_str(),
      "OPENSHIFT_HA_REPLICA_COUNT", e);
  env(c.add_option("--priority", o.priority,
                   "Priority 1-255 for every instance (0: ipfailover's scheme)")
          ->capture_default_str(),
      "VIPD_PRIORITY", e);
  env(c.add_option("--advert-interval", o.advert_interval,
                   "Advert interval in seconds (v2: whole seconds; v3: 0.01-40.95)")
          ->capture_default_str(),
      "VIPD_ADVERT_INTERVAL", e);
  env(c.add_option("--vrrp-version", o.vrrp_version, "VRRP version 2 or 3")->capture_default_str(),
      "VIPD_VRRP_VERSION", e);
  env(c.add_option("--preemption", o.preemption,
                   "'nopreempt', 'preempt_delay N' or 'preempt' (no delay)")
          ->capture_default_str(),
      "OPENSHIFT_HA_PREEMPTION", e);
  env(c.add_option(
          "--unicast-peers", o.unicast_peers,
          "Comma list of peer addresses or DNS names: adverts go to each of them as well as "
          "to the VRRP group (our own addresses are ignored)"),
      "OPENSHIFT_HA_UNICAST_PEERS", e);
  env(c.add_option("--use-unicast", o.use_unicast,
                   "true: unicast only (no multicast adverts); requires unicast peers"),
      "OPENSHIFT_HA_USE_UNICAST", e);
  env(c.add_option("--source-address", o.source_address,
                   "Source of adverts (default: the interface's primary address)"),
      "VIPD_SOURCE_ADDRESS", e);
  env(c.add_option("--unicast-source-address", o.unicast_source_address,
                   "Source of adverts in unicast mode"),
      "UNICAST_SOURCE_IPADDRESS", e);
  env(c.add_option("--multicast-source-address", o.multicast_source_address,
                   "Source of adverts in multicast mode"),
      "MULTICAST_SOURCE_IPADDRESS", e);
  env(c.add_option("--config-name", o.config_name, "Instance names are <config-name>_VIP_<n>")
          ->capture_default_str(),
      "OPENSHIFT_HA_CONFIG_NAME", e);
  env(c.add_option("--auth-pass", o.auth_pass,
                   "VRRPv2 PASS password, first 8 characters (default: the config name)"),
      "VIPD_AUTH_PASS", e);
  env(c.add_flag("--no-auth", o.no_auth, "VRRPv2 without authentication"), "VIPD_NO_AUTH", e);
  env(c.add_option("--monitor-port", o.monitor_port,
                   "TCP port checked on the interface's address (0: no check)")
          ->capture_default_str(),
      "OPENSHIFT_HA_MONITOR_PORT", e);
  env(c.add_option("--check-script", o.check_script,
                   "Health-check program, replacing the port check"),
      "OPENSHIFT_HA_CHECK_SCRIPT", e);
  env(c.add_option("--monitor-service", o.monitor_service,
                   "Kubernetes Service (namespace/name) whose ready endpoints on this node are "
                   "the health check, replacing the port check"),
      "OPENSHIFT_HA_MONITOR_SERVICE", e);
  env(c.add_option(
          "--node-name", o.node_name,
          "This node's Kubernetes name (downward API spec.nodeName), for --monitor-service"),
      "OPENSHIFT_HA_NODE_NAME", e);
  env(c.add_option("--k8s-api-host", o.k8s_api_host, "Kubernetes API server address"),
      "KUBERNETES_SERVICE_HOST", e);
  env(c.add_option("--k8s-api-port", o.k8s_api_port, "Kubernetes API server port")
          ->capture_default_str(),
      "KUBERNETES_SERVICE_PORT", e);
  env(c.add_option("--k8s-service-account-dir", o.k8s_service_account_dir,
                   "Directory with the ServiceAccount's token, ca.crt and namespace")
          ->capture_default_str(),
      "VIPD_K8S_SERVICE_ACCOUNT_DIR", e);
  env(c.add_option("--k8s-api-grace", o.k8s_api_grace,
                   "Seconds an unreachable Kubernetes API keeps the last known check state before "
                   "it is reported stale (it is kept either way)")
          ->capture_default_str(),
      "VIPD_K8S_API_GRACE", e);
  env(c.add_option("--monitor-url", o.monitor_url,
                   "HTTP health check URL (e.g. kube-proxy's healthCheckNodePort), replacing the "
                   "port check"),
      "OPENSHIFT_HA_MONITOR_URL", e);
  env(c.add_option("--check-expect-status", o.check_expect_status,
                   "HTTP status that --monitor-url must answer (kube-proxy: 200, else 503)")
          ->capture_default_str(),
      "VIPD_CHECK_EXPECT_STATUS", e);
  env(c.add_option("--check-interval", o.check_interval, "Seconds between health checks")
          ->capture_default_str(),
      "OPENSHIFT_HA_CHECK_INTERVAL", e);
  env(c.add_option("--check-timeout", o.check_timeout,
                   "Seconds before a check counts as failed (default: interval)"),
      "VIPD_CHECK_TIMEOUT", e);
  env(c.add_option("--check-rise", o.check_rise, "Successes needed to count as healthy")
          ->capture_default_str(),
      "VIPD_CHECK_RISE", e);
  env(c.add_option("--check-fall", o.check_fall, "Failures needed to count as failed")
          ->capture_default_str(),
      "VIPD_CHECK_FALL", e);
  env(c.add_option(
           "--check-weight", o.check_weight,
           "Priority change when the check fails (<0) or succeeds (>0); 0: FAULT on failure")
          ->capture_default_str(),
      "VIPD_CHECK_WEIGHT", e);
  env(c.add_option("--fast-fail", o.fast_fail,
                   "Check at once when the kernel sees the monitored port refuse a connection")
          ->capture_default_str(),
      "VIPD_FAST_FAIL", e);
  env(c.add_option("--notify-script", o.notify_script,
                   "Run on every transition: INSTANCE <name> MASTER|BACKUP|FAULT|STOP <priority>"),
      "OPENSHIFT_HA_NOTIFY_SCRIPT", e);
  env(c.add_option("--iptables-chain", o.iptables_chain,
                   "Raw-socket mode: accept VRRP in this iptables chain"),
      "OPENSHIFT_HA_IPTABLES_CHAIN", e);
  env(c.add_option("--nftables-rule", o.nftables_rule,
                   "Raw-socket mode: add an nftables rule accepting VRRP"),
      "OPENSHIFT_HA_NFTABLES_RULE", e);
  env(c.add_option("--bpf-pin-path", o.bpf_pin_path,
                   "Pin directory (default /sys/fs/bpf/vipd/<interface>)"),
      "VIPD_BPF_PIN_PATH", e);
  env(c.add_flag("--no-bpf", o.no_bpf, "Do not use eBPF: receive adverts on a raw socket"),
      "VIPD_NO_BPF", e);
  env(c.add_option("--xdp-mode", o.xdp_mode, "auto, native or generic")
          ->check(CLI::IsMember({"auto", "native", "generic"}))
          ->capture_default_str(),
      "VIPD_XDP_MODE", e);
  env(c.add_flag("--xdp-drop-invalid", o.xdp_drop_invalid, "XDP_DROP invalid VRRP packets"),
      "VIPD_XDP_DROP_INVALID", e);
  env(c.add_option("--realtime-priority", o.realtime_priority,
                   "SCHED_FIFO priority 1-99 (0: normal scheduling); keeps adverts on time when "
                   "CPU hogs or a low nice value would starve vipd")
          ->capture_default_str(),
      "VIPD_REALTIME_PRIORITY", e);
  env(c.add_flag("--lock-memory", o.lock_memory, "Lock vipd's memory (mlockall): no page faults"),
      "VIPD_LOCK_MEMORY", e);
  env(c.add_option("--timer-slack-us", o.timer_slack_us,
                   "Timer slack in microseconds (0: the kernel's default, 50)")
          ->capture_default_str(),
      "VIPD_TIMER_SLACK_US", e);
  env(c.add_option("--garp-master-repeat", o.garp_master_repeat,
                   "Gratuitous ARPs / NAs per VIP in each burst")
          ->capture_default_str(),
      "VIPD_GARP_MASTER_REPEAT", e);
  env(c.add_option("--garp-master-delay", o.garp_master_delay,
                   "Seconds after becoming master for the second burst (0: none)")
          ->capture_default_str(),
      "VIPD_GARP_MASTER_DELAY", e);
  env(c.add_option("--garp-master-refresh", o.garp_master_refresh,
                   "Seconds between periodic re-announcements while master (0: none)")
          ->capture_default_str(),
      "VIPD_GARP_MASTER_REFRESH", e);
  env(c.add_option("--garp-master-refresh-repeat", o.garp_master_refresh_repeat,
                   "Gratuitous ARPs / NAs per VIP in each periodic re-announcement")
          ->capture_default_str(),
      "VIPD_GARP_MASTER_REFRESH_REPEAT", e);
  env(c.add_option("--conflict-probe-interval", o.conflict_probe_interval,
                   "Seconds between RFC 5227 probes of the VIPs a master holds, to find a second "
                   "owner (0: none)")
          ->capture_default_str(),
      "VIPD_CONFLICT_PROBE_INTERVAL", e);
  env(c.add_option("--learned-peer-timeout", o.learned_peer_timeout,
                   "Seconds of silence after which a peer learned while healing a split brain is "
                   "forgotten")
          ->capture_default_str(),
      "VIPD_LEARNED_PEER_TIMEOUT", e);
  env(c.add_option("--peer-resolve-interval", o.peer_resolve_interval,
                   "Seconds between DNS lookups of unicast peers given by name")
          ->capture_default_str(),
      "VIPD_PEER_RESOLVE_INTERVAL", e);
  env(c.add_option("--allowed-sources", o.allowed_sources,
                   "Comma list of addresses: only these and the unicast peers may advertise (the "
                   "kernel drops the rest)"),
      "VIPD_ALLOWED_SOURCES", e);
  env(c.add_option("--status-socket", o.status_socket,
                   "Unix socket for `vipd status` (default: abstract @vipd/<interface>)"),
      "VIPD_STATUS_SOCKET", e);
  env(c.add_option("--metrics-address", o.metrics_address,
                   "Prometheus metrics endpoint: HOST:PORT, [IPV6]:PORT or :PORT (every address); "
                   "empty: no metrics")
          ->capture_default_str(),
      "VIPD_METRICS_ADDRESS", e);
  env(c.add_option("--state-dir", o.state_dir,
                   "Where vipd records the VIPs and programs it adds (<dir>/<interface>.state), "
                   "for `vipd cleanup` after a crash")
          ->capture_default_str(),
      "VIPD_STATE_DIR", e);
  env(c.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
          ->capture_default_str(),
      "VIPD_LOG_LEVEL", e);
  env(c.add_option("--log-format", o.log_format,
                   "text (keepalived-style lines with a level) or json (one object per line)")
          ->capture_default_str(),
      "VIPD_LOG_FORMAT", e);
  env(c.add_option("--admin-emails", o.admin_emails,
                   "Accepted for ipfailover compatibility; unused"),
      "OPENSHIFT_HA_ADMIN_EMAILS", e);
  env(c.add_option("--smtp-server", o.smtp_server, "Accepted for ipfailover compatibility; unused"),
      "OPENSHIFT_HA_SMTP_SERVER", e);
  env(c.add_option("--selector", o.selector, "Accepted for ipfailover compatibility; unused"),
      "OPENSHIFT_HA_SELECTOR", e);
  env(c.add_option("--keepalived-options", o.keepalived_options,
                   "Accepted for ipfailover compatibility; unused"),
      "KEEPALIVED_OPTIONS", e);
}

std::vector<std::string> apply_config_file(const std::string& path, RunOptions& options) {
  std::ifstream file(path);
  if (!file) return {"cannot read config file " + path};
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(file);
  } catch (const CLI::ParseError& error) {
    return {"config file " + path + ": " + error.what()};
  }
  // Keys may be long option names or their environment names.
  CLI::App names;
  RunOptions scratch;
  add_run_options(names, scratch, true);
  std::map<std::string, std::string> by_env;
  for (const CLI::Option* option : names.get_options()) {
    if (!option->get_envname().empty()) by_env[option->get_envname()] = option->get_single_name();
  }
  std::vector<std::string> args;
  std::vector<std::string> errors;
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    std::string name = item.name;
    if (const auto it = by_env.find(name); it != by_env.end()) {
      name = it->second;
    } else {
      std::replace(name.begin(), name.end(), '_', '-');  // TOML style: vip_groups = 3
    }
    if (name == "config" || names.get_option_no_throw("--" + name) == nullptr) {
      errors.push_back("config file " + path + ": unknown setting '" + item.name + "'");
      continue;
    }
    std::string value;
    for (const std::string& input : item.inputs) value += (value.empty() ? "" : " ") + input;
    args.push_back("--" + name + "=" + value);
  }
  if (!errors.empty()) return errors;
  CLI::App file_app;
  add_run_options(file_app, options, false);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
  try {
    file_app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    return {"config file " + path + ": " + error.what()};
  }
  return {};
}

std::string find_config_path(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) return argv[i + 1];
    if (arg.rfind("--config=", 0) == 0) return arg.substr(9);
  }
  const char* from_env = std::getenv("VIPD_CONFIG");
  return from_env == nullptr ? std::string() : std::string(from_env);
}

void apply_empty_environment(const CLI::App& command, RunOptions& options) {
  const CLI::Option* option = command.get_option_no_throw("--metrics-address");
  if (option == nullptr || option->count() > 0) return;
  const char* value = std::getenv("VIPD_METRICS_ADDRESS");
  if (value != nullptr && *value == '\0') options.metrics_address.clear();
}

void add_run_commands(CLI::App& app, CommandOptions& options) {
  auto* run = app.add_subcommand("run", "Run the VRRP daemon in the foreground");
  add_run_options(*run, options.run);
  run->callback([run, &options] { apply_empty_environment(*run, options.run); });
  auto* check =
      app.add_subcommand("check-config", "Print the resolved plan (or every error) and exit");
  add_run_options(*check, options.check);
  check->callback([check, &options] { apply_empty_environment(*check, options.check); });
  check->add_flag("--json", options.json, "Stable JSON output (docs/CONFIG.md)");
}

std::vector<std::string> apply_config_file(int argc, const char* const* argv,
                                           CommandOptions& options) {
  const std::string path = find_config_path(argc, argv);
  if (path.empty()) return {};
  std::vector<std::string> errors = apply_config_file(path, options.run);
  options.check = options.run;
  return errors;
}

const RunOptions& parsed_run_options(const CLI::App& app, const CommandOptions& options) {
  return app.got_subcommand("check-config") ? options.check : options.run;
}

std::vector<std::string> ignored_settings(const RunOptions& o) {
  std::vector<std::string> set;
  if (!o.admin_emails.empty()) set.push_back("OPENSHIFT_HA_ADMIN_EMAILS");
  if (!o.smtp_server.empty()) set.push_back("OPENSHIFT_HA_SMTP_SERVER");
  if (!o.selector.empty()) set.push_back("OPENSHIFT_HA_SELECTOR");
  if (!o.keepalived_options.empty()) set.push_back("KEEPALIVED_OPTIONS");
  return set;
}

}  // namespace vipd::config
