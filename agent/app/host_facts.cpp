#include "app/host_facts.h"

#include <unistd.h>

#include <cctype>
#include <fstream>

#include "config/vip_list.h"
#include "net/netlink.h"

namespace vipd::app {

using config::HealthPlan;
using config::HostFacts;
using config::Plan;
using config::RunOptions;

namespace {

// Only for `--monitor-service <name>` without a namespace: the pod's own namespace.
std::string service_account_namespace(const RunOptions& options) {
  if (options.monitor_service.empty() || options.monitor_service.find('/') != std::string::npos)
    return {};
  std::ifstream file(options.k8s_service_account_dir + "/namespace");
  std::string name;
  std::getline(file, name);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  return name;
}

}  // namespace

std::optional<HostFacts> read_host_facts(const RunOptions& options,
                                         std::vector<std::string>& errors,
                                         const std::vector<core::IpAddress>& also_not_primary) {
  net::Netlink netlink;
  if (core::Status status = netlink.open(); !status) {
    errors.push_back(status.message());
    return std::nullopt;
  }
  HostFacts facts;
  std::optional<net::LinkState> link;
  if (options.interface.empty()) {
    const auto ifindex = netlink.default_route_ifindex();
    if (ifindex) link = netlink.link(*ifindex);
    if (!link) {
      errors.push_back(
          "no interface configured (--interface / OPENSHIFT_HA_NETWORK_INTERFACE) and no default "
          "route to pick one from");
      return std::nullopt;
    }
    facts.interface_from_default_route = true;
  } else {
    link = netlink.link(options.interface);
    if (!link) {
      errors.push_back("interface '" + options.interface + "' does not exist");
      return std::nullopt;
    }
  }
  facts.interface = link->name;
  facts.ifindex = link->ifindex;
  facts.mac = link->mac;
  // A VIP left behind by a crashed run must not be mistaken for the primary address.
  std::vector<core::IpAddress> vips;
  for (const config::Vip& vip : config::parse_vip_list(options.vips).vips)
    vips.push_back(vip.address);
  vips.insert(vips.end(), also_not_primary.begin(), also_not_primary.end());
  if (auto v4 = netlink.primary_address(link->ifindex, core::Family::V4, vips))
    facts.primary_v4 = v4->address;
  if (auto v6 = netlink.primary_address(link->ifindex, core::Family::V6, vips)) {
    facts.link_local_v6 = v6->address;
  }
  for (const net::AddressEntry& entry : netlink.addresses(0)) {
    if (std::find(vips.begin(), vips.end(), entry.address) == vips.end()) {
      facts.local_addresses.push_back(entry.address);
    }
  }
  facts.service_account_namespace = service_account_namespace(options);
  return facts;
}

void check_host_paths(const Plan& plan, std::vector<std::string>& errors) {
  auto check = [&](const std::string& what, const std::string& path) {
    if (path.empty()) return;
    if (access(path.c_str(), X_OK) != 0)
      errors.push_back(what + " '" + path + "' is not an executable file");
  };
  check("notify script", plan.notify_script);
  if (plan.health.kind == config::HealthPlan::Kind::Script)
    check("check script", plan.health.script_argv.front());
  if (plan.health.kind == HealthPlan::Kind::ServiceEndpoints) {
    // The kubelet mounts both with the ServiceAccount token (automountServiceAccountToken).
    for (const std::string& path : {plan.health.service.token_file, plan.health.service.ca_file}) {
      if (access(path.c_str(), R_OK) != 0) {
        errors.push_back("ServiceAccount file '" + path +
                         "' is not readable (mount the token: automountServiceAccountToken: true; "
                         "or set --k8s-service-account-dir)");
      }
    }
  }
}

}  // namespace vipd::app
