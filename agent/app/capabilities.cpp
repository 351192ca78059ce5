#include "app/capabilities.h"

#include <linux/capability.h>

#include <string_view>
#include <vector>

namespace vipd::app {
namespace {

struct Required {
  int capability;
  std::string_view name;
  std::string_view used_for;
  std::string_view cap_add;  // podman --cap-add / the pod's capabilities.add spelling
};

constexpr Required kRequired[] = {
    {CAP_NET_ADMIN, "CAP_NET_ADMIN", "adding the VIPs, attaching XDP and tc", "NET_ADMIN"},
    {CAP_NET_RAW, "CAP_NET_RAW", "the VRRP socket and gratuitous ARP", "NET_RAW"},
};

}  // namespace

std::string missing_run_capabilities(std::uint64_t effective) {
  std::vector<const Required*> missing;
  for (const Required& required : kRequired) {
    if (((effective >> required.capability) & 1U) == 0) missing.push_back(&required);
  }
  if (missing.empty()) return {};
  std::string names;
  std::string uses;
  std::string adds;
  for (const Required* required : missing) {
    const bool first = required == missing.front();
    names += std::string(first ? "" : " and ") + std::string(required->name);
    uses += std::string(first ? "" : "; ") + std::string(required->used_for);
    adds += std::string(first ? "" : ", ") + std::string(required->cap_add);
  }
  return names + (missing.size() > 1 ? " are" : " is") +
         " missing from the effective capability set (needed for " + uses +
         "): run as root with it (container: --cap-add / capabilities.add " + adds + ")";
}

}  // namespace vipd::app
