// `vipd run` options: one schema read from flags, environment variables (ipfailover's
// OPENSHIFT_HA_* names, vipd's VIPD_* names) and a config file, with precedence
// flag > environment > file > default.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace vipd::config {

struct RunOptions {
  std::string interface;  // empty: the interface of the default route
  std::string vips;
  int vrid = 0;             // first VRID; 0: vrrp_id_offset + 1
  int vrrp_id_offset = 10;  // ipfailover: VRID = offset + instance number
  std::string excluded_vrids;
  int vip_groups = 0;
  int replica_count = 1;
  int priority = 0;  // 0: ipfailover's priority scheme
  std::string advert_interval = "1";
  int vrrp_version = 2;
  std::string preemption = "preempt_delay 300";
  std::string unicast_peers;
  std::string use_unicast;  // accepted ("true"/"false"); true requires peers
  std::string source_address;
  std::string unicast_source_address;
  std::string multicast_source_address;
  std::string config_name = "OpenShift-IPFailover";
  std::string auth_pass;  // default: the config name (ipfailover's PASS); v2 only
  bool no_auth = false;
  std::string monitor_port = "80";
  std::string check_script;
  // Kubernetes (docs/CONFIG.md, "Applications behind a NodePort"): the local-endpoint check of a
  // Service's EndpointSlices, or an HTTP check such as kube-proxy's healthCheckNodePort.
  std::string monitor_service;  // namespace/name, or name in the ServiceAccount's namespace
  std::string node_name;        // this node's name (downward API: spec.nodeName)
  std::string k8s_api_host;     // KUBERNETES_SERVICE_HOST, as every pod has it
  std::string k8s_api_port = "443";
  std::string k8s_service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string k8s_api_grace = "60";
  std::string monitor_url;
  int check_expect_status = 200;
  std::string check_interval = "2";
  std::string check_timeout;  // default: the interval
  int check_rise = 1;
  int check_fall = 1;
  int check_weight = 0;  // 0: a failing check puts every instance into FAULT
  bool fast_fail = true;
  std::string notify_script;
  std::string iptables_chain;
  std::string nftables_rule;
  std::string bpf_pin_path;  // default /sys/fs/bpf/vipd/<interface>
  bool no_bpf = false;
  std::string xdp_mode = "auto";
  bool xdp_drop_invalid = false;
  int realtime_priority = 0;  // SCHED_FIFO priority 1-99; 0: the normal scheduler
  bool lock_memory = false;   // mlockall
  int timer_slack_us = 0;     // prctl(PR_SET_TIMERSLACK); 0: the kernel's default (50 us)
  int garp_master_repeat = 5;
  std::string garp_master_delay = "5";
  std::string garp_master_refresh = "30";
  int garp_master_refresh_repeat = 1;
  std::string conflict_probe_interval = "3";  // RFC 5227 probes of held VIPs; 0: none
  std::string learned_peer_timeout = "10";
  std::string peer_resolve_interval = "30";
  std::string allowed_sources;  // comma list: only these (and peers) may advertise
  std::string status_socket;    // default: abstract @vipd/<interface>, scoped to the netns
  // Prometheus endpoint (metrics/listen_address.h: HOST:PORT, [IPV6]:PORT, :PORT); empty: off.
  // 9112 (VRRP is IP protocol 112): not node-exporter's 9100 nor keepalived-exporter's 9165/2112.
  std::string metrics_address = ":9112";
  // Where `run` records what it changed on the host (<dir>/<interface>.state) for `vipd cleanup`.
  std::string state_dir = "/run/vipd";
  std::string log_level = "info";
  std::string log_format = "text";  // text or json; validated with log_level (main.cpp)
  // Accepted for compatibility, unused: reported in the log.
  std::string admin_emails, smtp_server, selector, keepalived_options;
};

// Registers every option; `with_env` binds the environment names (the config-file pass does not).
void add_run_options(CLI::App& command, RunOptions& options, bool with_env = true);

// Applies a TOML/INI config file (`key = value`, keys are long option names, also with `_` for
// `-`, or their environment names) to `options`. Call before parsing flags and environment, which
// then override it.
// Returns one line per problem (unreadable file, unknown key, bad value).
std::vector<std::string> apply_config_file(const std::string& path, RunOptions& options);

// `--config FILE` / `--config=FILE` from argv, else VIPD_CONFIG; empty when neither.
std::string find_config_path(int argc, const char* const* argv);

// The two commands that read RunOptions. Each has its own copy: CLI11 applies the environment to
// every subcommand, parsed or not, so a shared one would let the other command's environment values
// overwrite this command's flags. Both resolve exactly the same way, so check-config shows what run
// would do.
struct CommandOptions {
  RunOptions run;
  RunOptions check;
  bool json = false;  // check-config --json
};

// Adds `run` and `check-config` to `app`, bound to `options`.
void add_run_commands(CLI::App& app, CommandOptions& options);

// Applies the config file named by argv (--config) or VIPD_CONFIG, if any, to both commands'
// options; call before parsing, so environment and flags override it. Returns one line per problem.
std::vector<std::string> apply_config_file(int argc, const char* const* argv,
                                           CommandOptions& options);

// An environment variable set to the empty string is an explicit value for options whose empty
// value means "off" (VIPD_METRICS_ADDRESS=""); CLI11 treats it as unset. Applied after parsing,
// unless the flag was given.
void apply_empty_environment(const CLI::App& command, RunOptions& options);

// After parsing: the options of the command that was given.
const RunOptions& parsed_run_options(const CLI::App& app, const CommandOptions& options);

// The ignored ipfailover variables that were set, for one log line each.
std::vector<std::string> ignored_settings(const RunOptions& options);

}  // namespace vipd::config
