#include "config/kubernetes_checks.h"

#include <cctype>
#include <charconv>

#include "vipd/core/ip_address.h"

namespace vipd::config {
namespace {

bool lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

std::string api_server_url(const std::string& host, int port) {
  const auto address = core::IpAddress::parse(host);
  const std::string shown = address && !address->is_v4() ? "[" + host + "]" : host;
  return "https://" + shown + ":" + std::to_string(port);
}

bool valid_host(const std::string& host) {
  if (core::IpAddress::parse(host)) return true;
  std::string lower;
  for (const char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return is_dns1123_subdomain(lower);
}

}  // namespace

bool is_dns1123_label(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!lower_alnum(name.front()) || !lower_alnum(name.back())) return false;
  for (const char c : name) {
    if (!lower_alnum(c) && c != '-') return false;
  }
  return true;
}

bool is_dns1035_label(std::string_view name) {
  return is_dns1123_label(name) && name.front() >= 'a' && name.front() <= 'z';
}

bool is_dns1123_subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t dot = name.find('.', start);
    const std::size_t end = dot == std::string_view::npos ? name.size() : dot;
    if (!is_dns1123_label(name.substr(start, end - start))) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

void plan_service_check(const RunOptions& o, const HostFacts& host, HealthPlan& health,
                        std::vector<std::string>& errors) {
  health.kind = HealthPlan::Kind::ServiceEndpoints;
  ServiceCheckPlan& check = health.service;
  const std::string& text = o.monitor_service;
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) {
    check.namespace_name = host.service_account_namespace;
    check.service = text;
    if (check.namespace_name.empty()) {
      errors.push_back("monitor service '" + text + "' names no namespace and " +
                       o.k8s_service_account_dir +
                       "/namespace cannot be read: write it as namespace/name");
    }
  } else {
    check.namespace_name = text.substr(0, slash);
    check.service = text.substr(slash + 1);
  }
  if (!check.namespace_name.empty() && !is_dns1123_label(check.namespace_name)) {
    errors.push_back("invalid monitor service '" + text + "': namespace '" + check.namespace_name +
                     "' is not a Kubernetes namespace name (lower-case letters, digits, '-')");
  }
  if (!is_dns1035_label(check.service)) {
    errors.push_back("invalid monitor service '" + text + "': '" + check.service +
                     "' is not a Service name (lower-case letters, digits, '-'; a letter first)");
  }
  check.node_name = o.node_name;
  if (o.node_name.empty()) {
    errors.push_back(
        "the monitor service needs this node's Kubernetes name: set OPENSHIFT_HA_NODE_NAME (or "
        "--node-name) from the downward API, fieldRef spec.nodeName");
  } else if (!is_dns1123_subdomain(o.node_name)) {
    errors.push_back("invalid node name '" + o.node_name +
                     "' (a Kubernetes node name: lower-case letters, digits, '-' and '.')");
  }
  int port = 0;
  const auto [end, parse_error] =
      std::from_chars(o.k8s_api_port.data(), o.k8s_api_port.data() + o.k8s_api_port.size(), port);
  const bool port_ok = parse_error == std::errc{} &&
                       end == o.k8s_api_port.data() + o.k8s_api_port.size() && port >= 1 &&
                       port <= 65535;
  if (!port_ok) {
    errors.push_back("invalid Kubernetes API port '" + o.k8s_api_port +
                     "' (KUBERNETES_SERVICE_PORT / --k8s-api-port: 1-65535)");
  }
  if (o.k8s_api_host.empty()) {
    errors.push_back(
        "the monitor service needs the Kubernetes API server: KUBERNETES_SERVICE_HOST is not set "
        "(every pod has it; outside a pod set --k8s-api-host)");
  } else if (!valid_host(o.k8s_api_host)) {
    errors.push_back("invalid Kubernetes API host '" + o.k8s_api_host +
                     "' (KUBERNETES_SERVICE_HOST / --k8s-api-host: an address or a DNS name)");
  } else if (port_ok) {
    check.api_server = api_server_url(o.k8s_api_host, port);
  }
  const std::string dir =
      o.k8s_service_account_dir.ends_with('/') && o.k8s_service_account_dir.size() > 1
          ? o.k8s_service_account_dir.substr(0, o.k8s_service_account_dir.size() - 1)
          : o.k8s_service_account_dir;
  check.token_file = dir + "/token";
  check.ca_file = dir + "/ca.crt";
  const auto grace = parse_seconds(o.k8s_api_grace);
  if (!grace) {
    errors.push_back("invalid Kubernetes API grace '" + o.k8s_api_grace +
                     "' (seconds, 0 or more; VIPD_K8S_API_GRACE / --k8s-api-grace)");
  } else {
    check.api_grace = *grace;
  }
}

void plan_url_check(const RunOptions& o, HealthPlan& health, std::vector<std::string>& errors) {
  health.kind = HealthPlan::Kind::HttpGet;
  health.url = o.monitor_url;
  health.expected_status = o.check_expect_status;
  const std::string& url = o.monitor_url;
  const std::size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  const std::size_t host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const bool has_host = host_start < url.size() && url[host_start] != '/' &&
                        url[host_start] != ':' && url.find_first_of(" \t") == std::string::npos;
  if ((scheme != "http" && scheme != "https") || !has_host) {
    errors.push_back("invalid monitor URL '" + url +
                     "' (http://<host>:<port>/<path> or https://..., e.g. kube-proxy's "
                     "http://<node address>:<healthCheckNodePort>/healthz)");
  }
  if (o.check_expect_status < 100 || o.check_expect_status > 599) {
    errors.push_back("invalid expected HTTP status " + std::to_string(o.check_expect_status) +
                     " (100-599)");
  }
}

}  // namespace vipd::config
