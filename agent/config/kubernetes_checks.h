// Plans the two Kubernetes health checks from the options: the local-endpoint check of a Service
// (its namespace and name, this node's name, the API server and ServiceAccount files, the outage
// grace) and the HTTP check (URL and expected status, e.g. kube-proxy's healthCheckNodePort).
// Pure; each bad value is one error line naming it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "config/plan.h"

namespace vipd::config {

void plan_service_check(const RunOptions& options, const HostFacts& host, HealthPlan& health,
                        std::vector<std::string>& errors);
void plan_url_check(const RunOptions& options, HealthPlan& health,
                    std::vector<std::string>& errors);

// Kubernetes name rules: a DNS-1123 label (namespaces), a DNS-1035 label (Services) and a DNS-1123
// subdomain (nodes).
bool is_dns1123_label(std::string_view name);
bool is_dns1035_label(std::string_view name);
bool is_dns1123_subdomain(std::string_view name);

}  // namespace vipd::config
