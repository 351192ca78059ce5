#include "k8s/kube_proxy_answer.h"

#include <nlohmann/json.hpp>
#include <optional>

namespace vipd::k8s {
namespace {

struct KubeProxyBody {
  std::optional<long long> local_endpoints;
  std::optional<bool> proxy_healthy;  // serviceProxyHealthy (newer kube-proxy)
};

KubeProxyBody read_body(std::string_view body) {
  KubeProxyBody parsed;
  const auto json = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (json.is_discarded() || !json.is_object()) return parsed;
  if (const auto it = json.find("localEndpoints"); it != json.end() && it->is_number_integer())
    parsed.local_endpoints = it->get<long long>();
  if (const auto it = json.find("serviceProxyHealthy"); it != json.end() && it->is_boolean())
    parsed.proxy_healthy = it->get<bool>();
  return parsed;
}

}  // namespace

HealthAnswer judge_health_answer(long status, std::string_view body, long expected_status) {
  const KubeProxyBody parsed = read_body(body);
  std::string detail = "HTTP " + std::to_string(status);
  if (parsed.local_endpoints)
    detail += ", localEndpoints " + std::to_string(*parsed.local_endpoints);
  if (parsed.proxy_healthy && !*parsed.proxy_healthy) detail += ", serviceProxyHealthy false";
  if (status != expected_status) return {false, detail};
  // kube-proxy never answers 200 without a local endpoint, but a body that says 0 means 0.
  if (parsed.local_endpoints && *parsed.local_endpoints <= 0) return {false, detail};
  return {true, detail};
}

}  // namespace vipd::k8s
