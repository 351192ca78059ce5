#include "config/plan.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "config/kubernetes_checks.h"
#include "config/split.h"

namespace vipd::config {
namespace {

struct Preemption {
  bool preempt = true;
  core::Time delay{0};
};

std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<Preemption> parse_preemption(const std::string& text,
                                           std::vector<std::string>& notes) {
  const std::vector<std::string> words = split_list(text);
  if (words.empty() || (words.size() == 1 && words[0] == "preempt")) return Preemption{true, {}};
  if (words.size() == 1 && words[0] == "nopreempt") return Preemption{false, {}};
  if (words.size() == 1 && words[0] == "no_preempt") {
    // The ipfailover example Deployment ships this spelling; keepalived ignores the unknown word
    // and keeps preempting, which is not what anyone writing it meant.
    notes.push_back(
        "preemption 'no_preempt' read as 'nopreempt' (keepalived would have ignored it and kept "
        "preempting)");
    return Preemption{false, {}};
  }
  if (words.size() != 2 || (words[0] != "preempt_delay" && words[0] != "preempt_nodelay")) {
    return std::nullopt;
  }
  const auto seconds = parse_int(words[1]);
  if (!seconds || *seconds < 0 || *seconds > 1000) return std::nullopt;
  if (words[0] == "preempt_nodelay") {
    notes.push_back("preemption '" + text + "' read as 'preempt_delay " + words[1] +
                    "' (a typo from the ipfailover documentation)");
  }
  return Preemption{true, std::chrono::seconds(*seconds)};
}

// A DNS name as RFC 1123 allows it: dot-separated labels of letters, digits and inner hyphens.
bool is_dns_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (const char c : name) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if (c == '-' && label == 0) return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return previous != '-' && previous != '.';
}

// Addresses go to `peers`, names (re-resolved while running) to `names`.
std::vector<core::IpAddress> parse_peers(const std::string& text, const HostFacts& host,
                                         std::vector<std::string>& names,
                                         std::vector<std::string>& errors) {
  std::vector<core::IpAddress> peers;
  for (const std::string& token : split_list(text)) {
    const auto address = core::IpAddress::parse(token);
    if (!address && is_dns_name(token)) {
      if (std::find(names.begin(), names.end(), token) == names.end()) names.push_back(token);
      continue;
    }
    if (!address) {
      errors.push_back("invalid unicast peer '" + token +
                       "': neither an IP address nor a DNS name");
      continue;
    }
    // Every node gets the same list: our own addresses in it are ignored.
    const auto& own = host.local_addresses;
    if (std::find(own.begin(), own.end(), *address) != own.end()) continue;
    if (std::find(peers.begin(), peers.end(), *address) == peers.end()) peers.push_back(*address);
  }
  return peers;
}

std::optional<bool> parse_bool(const std::string& text) {
  std::string lower;
  for (const char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "1" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "0" || lower == "off" || lower.empty())
    return false;
  return std::nullopt;
}

// Deterministic stand-in for ipfailover's $RANDOM % 32, from the node address and instance number.
unsigned backup_spread(const core::IpAddress& node, int number) {
  std::uint32_t hash = 2166136261u;
  for (const std::uint8_t byte : node.bytes()) hash = (hash ^ byte) * 16777619u;
  hash = (hash ^ static_cast<std::uint32_t>(number)) * 16777619u;
  return (hash ^ (hash >> 16)) % 32;
}

void plan_source(const RunOptions& o, const HostFacts& host, core::Family family, Plan& plan,
                 std::vector<std::string>& errors) {
  // keepalived reads mcast_src_ip and unicast_src_ip into one setting, so either one sets the
  // source in either transport; the transport's own name wins when both are set.
  // With peers (unicast or hybrid transport) the unicast setting is the transport's own.
  const bool unicast = transport_name(plan) != "multicast";
  const std::string& preferred = unicast ? o.unicast_source_address : o.multicast_source_address;
  const std::string& other = unicast ? o.multicast_source_address : o.unicast_source_address;
  std::string chosen = o.source_address;
  if (chosen.empty()) chosen = preferred.empty() ? other : preferred;
  if (!chosen.empty()) {
    const auto source = core::IpAddress::parse(chosen);
    if (!source || source->family() != family) {
      errors.push_back("invalid source address '" + chosen + "' (an " +
                       (family == core::Family::V4 ? "IPv4" : "IPv6") + " address, like the VIPs)");
    } else {
      plan.source = *source;
    }
  } else if (family == core::Family::V4 && host.primary_v4) {
    plan.source = *host.primary_v4;
  } else if (family == core::Family::V6 && host.link_local_v6) {
    plan.source = *host.link_local_v6;
  } else {
    errors.push_back("interface " + host.interface + " has no " +
                     (family == core::Family::V4 ? "IPv4 address" : "IPv6 link-local address") +
                     " to send adverts from");
  }
}

void plan_health(const RunOptions& o, const HostFacts& host, const std::string& base_name,
                 Plan& plan, std::vector<std::string>& errors) {
  HealthPlan& health = plan.health;
  health.name = "chk_" + base_name;
  health.rise = o.check_rise;
  health.fall = o.check_fall;
  health.weight = o.check_weight;
  health.fast_fail = o.fast_fail;
  const auto interval = parse_seconds(o.check_interval);
  if (!interval || *interval <= core::Time{0}) {
    errors.push_back("invalid check interval '" + o.check_interval + "' (seconds > 0)");
  } else {
    health.interval = *interval;
  }
  const auto timeout = o.check_timeout.empty() ? interval : parse_seconds(o.check_timeout);
  if (o.check_timeout.empty()) {
    // Defaults to the interval, whose error (if any) is already reported.
    if (timeout) health.timeout = *timeout;
  } else if (!timeout || *timeout <= core::Time{0}) {
    errors.push_back("invalid check timeout '" + o.check_timeout + "' (seconds > 0)");
  } else {
    health.timeout = *timeout;
  }
  if (o.check_rise < 1 || o.check_rise > 100)
    errors.push_back("invalid check rise " + std::to_string(o.check_rise) + " (1-100)");
  if (o.check_fall < 1 || o.check_fall > 100)
    errors.push_back("invalid check fall " + std::to_string(o.check_fall) + " (1-100)");
  if (o.check_weight < -253 || o.check_weight > 253) {
    errors.push_back("invalid check weight " + std::to_string(o.check_weight) + " (-253..253)");
  }
  // Split as keepalived splits it; a blank value is no script at all.
  auto argv = split_list(o.check_script, Separators::Whitespace);
  const int replacements =
      int{!argv.empty()} + int{!o.monitor_service.empty()} + int{!o.monitor_url.empty()};
  if (replacements > 1) {
    errors.push_back(
        "several health checks are set: choose one of --check-script, --monitor-service and "
        "--monitor-url (OPENSHIFT_HA_CHECK_SCRIPT, OPENSHIFT_HA_MONITOR_SERVICE, "
        "OPENSHIFT_HA_MONITOR_URL)");
    return;
  }
  if (!argv.empty()) {
    health.kind = HealthPlan::Kind::Script;
    health.script_argv = std::move(argv);
    return;
  }
  // Each of these replaces the port check, as a check script does.
  if (!o.monitor_service.empty()) {
    plan_service_check(o, host, health, errors);
    return;
  }
  if (!o.monitor_url.empty()) {
    plan_url_check(o, health, errors);
    return;
  }
  const auto port = parse_int(o.monitor_port);
  if (!port || *port < 0 || *port > 65535) {
    errors.push_back("invalid monitor port '" + o.monitor_port + "' (0-65535; 0: no check)");
    return;
  }
  if (*port == 0) return;
  if (!host.primary_v4) {
    errors.push_back("monitor port " + o.monitor_port + " needs an IPv4 address on " +
                     host.interface + " (set --monitor-port 0 or a --check-script)");
    return;
  }
  health.kind = HealthPlan::Kind::TcpPort;
  health.address = *host.primary_v4;
  health.port = static_cast<std::uint16_t>(*port);
}

// XDP mode and pin directory. The loader pins under <bpffs root>/vipd/<interface>, so any other
// path would be silently moved: it is an error instead.
void plan_dataplane(const RunOptions& o, const HostFacts& host, Plan& plan,
                    std::vector<std::string>& errors) {
  if (o.xdp_mode == "auto") {
    plan.xdp_mode = XdpMode::Auto;
  } else if (o.xdp_mode == "native") {
    plan.xdp_mode = XdpMode::Native;
  } else if (o.xdp_mode == "generic") {
    plan.xdp_mode = XdpMode::Generic;
  } else {
    errors.push_back("invalid xdp-mode '" + o.xdp_mode + "' (auto, native or generic)");
  }
  plan.xdp_drop_invalid = o.xdp_drop_invalid;
  const std::string suffix = "/vipd/" + host.interface;
  plan.pin_path = o.bpf_pin_path.empty() ? "/sys/fs/bpf" + suffix : o.bpf_pin_path;
  if (plan.pin_path.size() > suffix.size() && plan.pin_path.starts_with("/") &&
      plan.pin_path.ends_with(suffix)) {
    plan.bpffs_root = plan.pin_path.substr(0, plan.pin_path.size() - suffix.size());
  } else {
    errors.push_back("invalid bpf-pin-path '" + plan.pin_path + "' (an absolute path ending in " +
                     suffix + ", e.g. /sys/fs/bpf" + suffix + ")");
  }
}

// Seconds for one of the split-brain settings: `what` names it in the error.
core::Time seconds_option(const std::string& text, const std::string& what, core::Time fallback,
                          bool zero_allowed, std::vector<std::string>& errors) {
  const auto value = parse_seconds(text);
  if (!value || *value < core::Time{0} || (!zero_allowed && *value == core::Time{0})) {
    errors.push_back("invalid " + what + " '" + text + "' (seconds" +
                     (zero_allowed ? ", 0 for none)" : ", more than 0)"));
    return fallback;
  }
  return *value;
}

void plan_split_brain(const RunOptions& o, bool any_peers, Plan& plan,
                      std::vector<std::string>& errors) {
  SplitBrainPlan& split = plan.split_brain;
  split.probe_interval = seconds_option(o.conflict_probe_interval, "conflict-probe-interval",
                                        split.probe_interval, true, errors);
  split.learned_peer_timeout = seconds_option(o.learned_peer_timeout, "learned-peer-timeout",
                                              split.learned_peer_timeout, false, errors);
  plan.transport.resolve_interval = seconds_option(o.peer_resolve_interval, "peer-resolve-interval",
                                                   plan.transport.resolve_interval, false, errors);
  split.expected_peers = o.replica_count > 1 || any_peers;
  for (const std::string& token : split_list(o.allowed_sources)) {
    const auto address = core::IpAddress::parse(token);
    if (!address) {
      errors.push_back("invalid allowed source '" + token + "': not an IP address");
      continue;
    }
    plan.transport.allowed_sources.push_back(*address);
  }
  plan.transport.restrict_sources =
      !plan.transport.allowed_sources.empty() || !plan.transport.multicast;
}

}  // namespace

std::optional<core::Time> parse_seconds(const std::string& text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t whole = 0;
  std::int64_t fraction_ns = 0;
  std::size_t i = 0;
  bool digits = false;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    // Nine digits of whole seconds (over 31 years) keep the nanosecond count far from overflow.
    if (whole >= 100'000'000) return std::nullopt;
    whole = whole * 10 + (text[i] - '0');
    digits = true;
  }
  if (i < text.size()) {
    if (text[i] != '.') return std::nullopt;
    std::int64_t scale = 100'000'000;
    for (++i; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i])) || scale == 0) return std::nullopt;
      fraction_ns += (text[i] - '0') * scale;
      scale /= 10;
      digits = true;
    }
  }
  if (!digits) return std::nullopt;
  return core::Time(whole * 1'000'000'000 + fraction_ns);
}

std::string scrub_name(const std::string& name) {
  std::string scrubbed;
  for (const char c : name) {
    if (c == '-') {
      scrubbed += '_';
    } else if (c == '_' || std::isalnum(static_cast<unsigned char>(c)) != 0) {
      scrubbed += c;
    }
  }
  return scrubbed;
}

std::string_view transport_name(const Plan& plan) {
  if (!plan.transport.multicast) return "unicast";
  const bool peers = !plan.unicast_peers.empty() || !plan.transport.peer_names.empty();
  return peers ? "hybrid" : "multicast";
}

std::string default_status_socket(const std::string& interface) {
  return "@vipd/" + interface;
}

std::vector<SchemePriority> scheme_priorities(const core::IpAddress& node, int replicas,
                                              int instances, bool nopreempt) {
  const int ipslot = node.data()[node.size() - 1] % 128;
  const int idx = ipslot % std::max(replicas, 1) + 1;
  std::vector<SchemePriority> result;
  int eligible = 0;
  for (int n = 1; n <= instances; ++n) {
    if (n % idx == 0) {
      const bool high = nopreempt || eligible % 2 == 0;
      ++eligible;
      // ipslot 0 would give 255, the address-owner value: keep it a normal priority.
      const int priority = high ? std::min(255 - ipslot, 254) : ipslot + 1;
      result.push_back({static_cast<std::uint8_t>(priority), true});
    } else {
      const int priority = ipslot % 64 + static_cast<int>(backup_spread(node, n));
      result.push_back({static_cast<std::uint8_t>(std::clamp(priority, 1, 254)), false});
    }
  }
  return result;
}

// Strictly increasing, so unique: the offset only ever grows while n does.
std::vector<int> plan_vrids(int offset, int count, const std::vector<int>& excluded) {
  std::vector<int> vrids;
  for (int n = 1; n <= count; ++n) {
    while (std::find(excluded.begin(), excluded.end(), offset + n) != excluded.end()) ++offset;
    vrids.push_back(offset + n);
  }
  return vrids;
}

PlanResult build_plan(const RunOptions& o, const HostFacts& host) {
  PlanResult result;
  Plan& plan = result.plan;
  auto& errors = result.errors;
  plan.interface = host.interface;
  plan.ifindex = host.ifindex;
  plan.mac = host.mac;
  plan.use_bpf = !o.no_bpf;
  plan_dataplane(o, host, plan, errors);
  plan.status_socket =
      o.status_socket.empty() ? default_status_socket(host.interface) : o.status_socket;
  plan.notify_script = o.notify_script;
  plan.metrics_address = o.metrics_address;
  if (!o.state_dir.empty()) plan.state_file = o.state_dir + "/" + host.interface + ".state";
  plan.firewall.iptables_chain = o.iptables_chain;
  plan.firewall.nftables = !o.nftables_rule.empty();
  if (host.interface_from_default_route) {
    plan.notes.push_back("no interface configured: using " + host.interface +
                         ", the default route's");
  }
  for (const std::string& name : ignored_settings(o))
    plan.notes.push_back(name + " is accepted and ignored");

  if (o.vrrp_version != 2 && o.vrrp_version != 3) {
    errors.push_back("invalid VRRP version " + std::to_string(o.vrrp_version) +
                     " (must be 2 or 3)");
  }
  const auto version = o.vrrp_version == 3 ? core::VrrpVersion::V3 : core::VrrpVersion::V2;
  const auto interval = parse_seconds(o.advert_interval);
  if (!interval)
    errors.push_back("invalid advert interval '" + o.advert_interval +
                     "' (seconds, e.g. 1 or 0.1)");
  const auto preemption = parse_preemption(o.preemption, plan.notes);
  if (!preemption) {
    errors.push_back("invalid preemption '" + o.preemption +
                     "' (nopreempt, preempt, or preempt_delay N with N 0-1000)");
  }
  if (o.priority < 0 || o.priority > 255) {
    errors.push_back("invalid priority " + std::to_string(o.priority) +
                     " (1-255, or 0 for ipfailover's scheme)");
  }
  if (o.garp_master_repeat < 0 || o.garp_master_repeat > 100) {
    errors.push_back("invalid garp-master-repeat " + std::to_string(o.garp_master_repeat) +
                     " (0-100)");
  }
  if (o.realtime_priority < 0 || o.realtime_priority > 99) {
    errors.push_back("invalid realtime-priority " + std::to_string(o.realtime_priority) +
                     " (1-99, or 0 for normal scheduling)");
  }
  if (o.timer_slack_us < 0 || o.timer_slack_us > 1'000'000) {
    errors.push_back("invalid timer-slack-us " + std::to_string(o.timer_slack_us) + " (0-1000000)");
  }
  plan.scheduling = {o.realtime_priority, o.lock_memory, o.timer_slack_us};
  const auto garp_delay = parse_seconds(o.garp_master_delay);
  if (!garp_delay) errors.push_back("invalid garp-master-delay '" + o.garp_master_delay + "'");
  const auto garp_refresh = parse_seconds(o.garp_master_refresh);
  if (!garp_refresh)
    errors.push_back("invalid garp-master-refresh '" + o.garp_master_refresh + "'");
  if (o.garp_master_refresh_repeat < 1 || o.garp_master_refresh_repeat > 100) {
    errors.push_back("invalid garp-master-refresh-repeat " +
                     std::to_string(o.garp_master_refresh_repeat) + " (1-100)");
  }
  plan.garp = {o.garp_master_repeat, garp_delay.value_or(core::Time{0}),
               garp_refresh.value_or(core::Time{0}), o.garp_master_refresh_repeat};
  if (o.vip_groups < 0)
    errors.push_back("invalid VIP groups " + std::to_string(o.vip_groups) + " (0 or more)");

  VipListResult vips = parse_vip_list(o.vips);
  errors.insert(errors.end(), vips.errors.begin(), vips.errors.end());
  if (vips.vips.empty() && vips.errors.empty())
    errors.push_back("no VIPs configured (--vips / OPENSHIFT_HA_VIRTUAL_IPS)");
  const auto groups = group_vips(vips.vips, static_cast<unsigned>(std::max(o.vip_groups, 0)));
  if (groups.size() > 255) {
    errors.push_back("too many instances: " + std::to_string(groups.size()) + " (at most 255)");
    return result;
  }

  // The family of the first VIP decides the transport; every instance must match it.
  const core::Family family =
      vips.vips.empty() ? core::Family::V4 : vips.vips.front().address.family();
  if (family == core::Family::V6 && version == core::VrrpVersion::V2) {
    errors.push_back("IPv6 VIPs need --vrrp-version 3");
  }
  plan.unicast_peers = parse_peers(o.unicast_peers, host, plan.transport.peer_names, errors);
  const bool any_peers = !plan.unicast_peers.empty() || !plan.transport.peer_names.empty();
  if (!any_peers && !split_list(o.unicast_peers).empty()) {
    plan.notes.push_back("unicast peers '" + o.unicast_peers +
                         "' list only this node: using multicast");
  }
  for (const auto& peer : plan.unicast_peers) {
    if (peer.family() != family)
      errors.push_back("unicast peer " + peer.to_string() + " is not of the VIPs' family");
  }
  const auto use_unicast = parse_bool(o.use_unicast);
  if (!use_unicast) {
    errors.push_back("invalid use-unicast '" + o.use_unicast + "' (true or false)");
  } else if (*use_unicast && !any_peers) {
    errors.push_back(
        "use-unicast is true but no unicast peers other than this node are configured");
  }
  plan.transport.multicast = !use_unicast.value_or(false);
  plan_split_brain(o, any_peers, plan, errors);
  plan_source(o, host, family, plan, errors);

  const std::string base_name = scrub_name(o.config_name);
  if (base_name.empty()) errors.push_back("invalid config name '" + o.config_name + "'");
  plan_health(o, host, base_name, plan, errors);

  std::vector<int> excluded;
  for (const std::string& token : split_list(o.excluded_vrids)) {
    const auto vrid = parse_int(token);
    if (!vrid || *vrid < 1 || *vrid > 255) {
      errors.push_back("invalid excluded VRID '" + token + "' (1-255)");
    } else {
      excluded.push_back(*vrid);
    }
  }
  const int count = static_cast<int>(groups.size());
  const std::vector<int> vrids = o.vrid != 0 ? plan_vrids(o.vrid - 1, count, excluded)
                                             : plan_vrids(o.vrrp_id_offset, count, excluded);
  std::vector<SchemePriority> scheme;
  if (o.priority == 0) {
    if (!host.primary_v4) {
      errors.push_back("ipfailover's priority scheme needs an IPv4 address on " + host.interface +
                       " (or set --priority)");
    } else {
      const bool nopreempt = preemption && !preemption->preempt;
      scheme = scheme_priorities(*host.primary_v4, o.replica_count, count, nopreempt);
    }
  }

  bool cleared_delay = false;
  const bool simple_auth = version == core::VrrpVersion::V2 && !o.no_auth;
  const std::string password = o.auth_pass.empty() ? o.config_name : o.auth_pass;
  for (int n = 1; n <= count; ++n) {
    InstancePlan instance;
    instance.number = n;
    instance.name = base_name + "_VIP_" + std::to_string(n);
    instance.vips = groups[static_cast<std::size_t>(n - 1)];
    const int vrid = vrids[static_cast<std::size_t>(n - 1)];
    if (vrid < 1 || vrid > 255) {
      errors.push_back("instance " + instance.name + ": VRID " + std::to_string(vrid) +
                       " is outside 1-255");
      continue;
    }
    if (instance.vips.size() > 255) {
      errors.push_back("instance " + instance.name + ": " + std::to_string(instance.vips.size()) +
                       " VIPs (a VRRP advert carries at most 255; raise --vip-groups)");
    }
    for (const Vip& vip : instance.vips) {
      if (vip.address.family() != family) {
        errors.push_back("instance " + instance.name + ": VIP " + vip.address.to_string() +
                         " mixes address families");
      }
    }
    instance.core.vrid = static_cast<std::uint8_t>(vrid);
    instance.core.version = version;
    if (!scheme.empty()) {
      instance.core.priority = scheme[static_cast<std::size_t>(n - 1)].priority;
      instance.master_eligible = scheme[static_cast<std::size_t>(n - 1)].master_eligible;
    } else {
      instance.core.priority = static_cast<std::uint8_t>(std::clamp(o.priority, 1, 255));
    }
    instance.core.advert_interval = interval.value_or(std::chrono::seconds(1));
    instance.core.preempt = preemption ? preemption->preempt : true;
    instance.core.preempt_delay = preemption ? preemption->delay : core::Time{0};
    if (!scheme.empty() && instance.master_eligible &&
        instance.core.preempt_delay > core::Time{0}) {
      // ipfailover writes `state MASTER` for master-eligible instances, and keepalived clears
      // preempt_delay for those: a returning master-eligible node takes over after one
      // Master_Down_Interval. Doing the same keeps mixed keepalived/vipd clusters in agreement.
      instance.core.preempt_delay = core::Time{0};
      cleared_delay = true;
    }
    instance.core.primary_address = plan.source;
    if (simple_auth) {
      instance.auth_type = core::AuthType::SimplePassword;
      instance.auth_key = core::make_auth_key(password);
    }
    if (errors.empty()) {
      if (const core::Status status = core::validate(instance.core); !status) {
        errors.push_back("instance " + instance.name + ": " + status.message());
      }
    }
    plan.instances.push_back(std::move(instance));
  }
  if (cleared_delay) {
    plan.notes.push_back(
        "preempt_delay does not apply to master-eligible instances (keepalived clears it for "
        "ipfailover's `state MASTER` instances)");
  }
  return result;
}

}  // namespace vipd::config
