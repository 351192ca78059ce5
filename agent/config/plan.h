// The resolved configuration: every instance with its name, VRID, VIPs, priority and timers,
// checked against the host's interface facts. Building it is pure; errors are collected, not
// thrown.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/options.h"
#include "config/vip_list.h"
#include "vipd/core/advert.h"
#include "vipd/core/instance.h"
#include "vipd/core/mac_address.h"

namespace vipd::config {

// What the daemon read from the host before planning (nothing is changed to read it).
struct HostFacts {
  std::string interface;
  bool interface_from_default_route = false;
  int ifindex = 0;
  core::MacAddress mac{};
  std::optional<core::IpAddress> primary_v4;
  std::optional<core::IpAddress> link_local_v6;
  std::vector<core::IpAddress> local_addresses;  // every address on the host's interfaces
  // The ServiceAccount's namespace file, read only for a monitor service given without one.
  std::string service_account_namespace;
};

struct InstancePlan {
  std::string name;             // <config-name>_VIP_<n>
  int number = 1;               // n
  bool master_eligible = true;  // ipfailover's scheme: this node is meant to be master
  core::InstanceConfig core;
  std::vector<Vip> vips;
  core::AuthType auth_type = core::AuthType::None;
  core::AuthKey auth_key{};
};

// How vipd asks the kernel to schedule it (keepalived: vrrp_rt_priority, vrrp_no_swap).
struct SchedulingPlan {
  int realtime_priority = 0;  // SCHED_FIFO 1-99; 0: SCHED_OTHER as started
  bool lock_memory = false;
  int timer_slack_us = 0;  // 0: unchanged
};

struct GarpPlan {
  int repeat = 5;
  core::Time delay = std::chrono::seconds(5);
  core::Time refresh = std::chrono::seconds(30);  // periodic re-announcement while master; 0: none
  int refresh_repeat = 1;
};

// The local-endpoint check: this node holds the VIPs while it has a ready endpoint of a Service.
struct ServiceCheckPlan {
  std::string namespace_name;
  std::string service;
  std::string node_name;
  std::string api_server;  // https://<host>:<port>
  std::string token_file;
  std::string ca_file;
  core::Time api_grace = std::chrono::seconds(60);  // an unreachable API is reported stale after it
  friend bool operator==(const ServiceCheckPlan&, const ServiceCheckPlan&) = default;
};

struct HealthPlan {
  enum class Kind { None, TcpPort, Script, HttpGet, ServiceEndpoints };
  Kind kind = Kind::None;
  std::string name;         // chk_<config name>, as ipfailover names its vrrp_script
  core::IpAddress address;  // TcpPort: the interface's primary IPv4 address
  std::uint16_t port = 0;
  std::vector<std::string> script_argv;  // Script: program and arguments, no shell
  std::string url;                       // HttpGet
  int expected_status = 200;             // HttpGet
  ServiceCheckPlan service;              // ServiceEndpoints
  core::Time interval = std::chrono::seconds(2);
  core::Time timeout = std::chrono::seconds(2);
  int rise = 1;
  int fall = 1;
  int weight = 0;  // 0: failure puts every instance into FAULT
  bool fast_fail = true;
  friend bool operator==(const HealthPlan&, const HealthPlan&) = default;
};

struct FirewallPlan {
  std::string iptables_chain;  // raw-socket mode only: accept 224.0.0.18 there
  bool nftables = false;       // raw-socket mode only: table inet vipd_<if> accepting VRRP
  friend bool operator==(const FirewallPlan&, const FirewallPlan&) = default;
};

// Split brain: detecting a second owner of our VIPs and healing it (docs/SPLIT_BRAIN.md).
struct SplitBrainPlan {
  core::Time probe_interval = std::chrono::seconds(3);  // RFC 5227 probes while MASTER; 0: none
  core::Time learned_peer_timeout = std::chrono::seconds(10);  // a silent learned peer is dropped
  // After evidence of a rival, unicast adverts from sources not yet known are accepted this long.
  core::Time unicast_window = std::chrono::seconds(10);
  core::Time defend_interval = std::chrono::seconds(10);  // RFC 5227 DEFEND_INTERVAL
  // Peers are expected (replicas > 1, or peers configured): a MASTER that hears nobody is "alone".
  bool expected_peers = false;
};

// How adverts travel and whom they are accepted from.
struct TransportPlan {
  bool multicast = true;                // false: unicast only (--use-unicast true)
  std::vector<std::string> peer_names;  // DNS names among the unicast peers, re-resolved
  core::Time resolve_interval = std::chrono::seconds(30);
  std::vector<core::IpAddress> allowed_sources;  // non-empty: only these (and peers) advertise
  // Adverts to the group too must come from a peer or an allowed source: with --allowed-sources,
  // and in unicast-only mode (the peers are the group there).
  bool restrict_sources = false;
};

enum class XdpMode : std::uint8_t { Auto, Native, Generic };

struct Plan {
  std::string interface;
  int ifindex = 0;
  core::MacAddress mac{};
  core::IpAddress source;
  std::vector<core::IpAddress> unicast_peers;  // configured by address; adverts go to each
  TransportPlan transport;
  SplitBrainPlan split_brain;
  std::vector<InstancePlan> instances;
  GarpPlan garp;
  SchedulingPlan scheduling;
  HealthPlan health;
  FirewallPlan firewall;
  std::string notify_script;
  std::vector<std::string> notes;  // warnings and defaults worth a log line
  bool use_bpf = true;
  XdpMode xdp_mode = XdpMode::Auto;
  bool xdp_drop_invalid = false;
  std::string pin_path;    // <bpffs_root>/vipd/<interface>
  std::string bpffs_root;  // where the loader mounts or finds bpffs
  std::string status_socket;
  std::string state_file;       // <state dir>/<interface>.state; empty: nothing recorded
  std::string metrics_address;  // as given (":9112"); empty: no metrics. Checked by app/resolve.
};

struct PlanResult {
  Plan plan;
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
};

PlanResult build_plan(const RunOptions& options, const HostFacts& host);

// ipfailover's priority scheme (documented in docs/CONFIG.md) for instances 1..`instances` on the
// node whose IPv4 address is `node` (ipkey = its last octet).
struct SchemePriority {
  std::uint8_t priority;
  bool master_eligible;
};
std::vector<SchemePriority> scheme_priorities(const core::IpAddress& node, int replicas,
                                              int instances, bool nopreempt);
// VRIDs for `count` instances: offset + n, skipping excluded ones the way ipfailover does (the
// offset grows for every later instance too).
std::vector<int> plan_vrids(int offset, int count, const std::vector<int>& excluded);

// "1", "0.1", "0.01" -> nanoseconds, exactly (no binary floating point); nullopt if malformed.
std::optional<core::Time> parse_seconds(const std::string& text);
// Non-alphanumerics removed, '-' turned to '_' (ipfailover's scrubbing of the config name).
std::string scrub_name(const std::string& name);
// Abstract socket name for an interface's daemon: "@vipd/<interface>".
std::string default_status_socket(const std::string& interface);
// "multicast", "unicast" (--use-unicast) or "hybrid" (multicast and unicast to every peer).
std::string_view transport_name(const Plan& plan);

}  // namespace vipd::config
