// The Kubernetes health checks in the plan: the local-endpoint check of a Service and the HTTP
// check (kube-proxy's healthCheckNodePort), their defaults and every error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/kubernetes_checks.h"
#include "config/plan.h"

namespace vipd::config {
namespace {

using std::chrono::seconds;

HostFacts host() {
  HostFacts facts;
  facts.interface = "eth0";
  facts.ifindex = 2;
  facts.primary_v4 = core::IpAddress::parse("198.18.7.37").value();
  facts.local_addresses = {*facts.primary_v4};
  return facts;
}

RunOptions service_options() {
  RunOptions o;
  o.vips = "198.18.7.100";
  o.monitor_service = "shop/web";
  o.node_name = "worker-0.example.internal";
  o.k8s_api_host = "172.30.0.1";
  return o;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

bool has_error(const PlanResult& result, const std::string& part) {
  for (const std::string& line : result.errors) {
    if (line.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(ServiceCheck, ReplacesThePortCheckWithInClusterDefaults) {
  const PlanResult result = build_plan(service_options(), host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  const HealthPlan& health = result.plan.health;
  EXPECT_EQ(health.kind, HealthPlan::Kind::ServiceEndpoints);
  EXPECT_EQ(health.name, "chk_OpenShift_IPFailover");
  EXPECT_EQ(health.port, 0);  // the default monitor port 80 is not checked
  EXPECT_EQ(health.service.namespace_name, "shop");
  EXPECT_EQ(health.service.service, "web");
  EXPECT_EQ(health.service.node_name, "worker-0.example.internal");
  EXPECT_EQ(health.service.api_server, "https://172.30.0.1:443");
  EXPECT_EQ(health.service.token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(health.service.ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(health.service.api_grace, seconds(60));
  EXPECT_EQ(health.weight, 0);
}

TEST(ServiceCheck, ApiServerAddressFormsAndOverrides) {
  RunOptions o = service_options();
  o.k8s_api_host = "fd00:198:18::1";
  o.k8s_api_port = "6443";
  o.k8s_service_account_dir = "/run/test-sa/";
  o.k8s_api_grace = "2.5";
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.service.api_server, "https://[fd00:198:18::1]:6443");
  EXPECT_EQ(result.plan.health.service.token_file, "/run/test-sa/token");
  EXPECT_EQ(result.plan.health.service.ca_file, "/run/test-sa/ca.crt");
  EXPECT_EQ(result.plan.health.service.api_grace, std::chrono::milliseconds(2500));
  o.k8s_api_host = "api.cluster.example";
  EXPECT_EQ(build_plan(o, host()).plan.health.service.api_server,
            "https://api.cluster.example:6443");
}

TEST(ServiceCheck, ANameAloneTakesTheServiceAccountsNamespace) {
  RunOptions o = service_options();
  o.monitor_service = "web";
  HostFacts facts = host();
  facts.service_account_namespace = "ipfailover";
  const PlanResult result = build_plan(o, facts);
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  EXPECT_EQ(result.plan.health.service.namespace_name, "ipfailover");
  EXPECT_TRUE(has_error(build_plan(o, host()), "names no namespace"));
}

TEST(ServiceCheck, EveryBadValueIsNamed) {
  const auto error_for = [](auto change, const std::string& part) {
    RunOptions o = service_options();
    change(o);
    const PlanResult result = build_plan(o, host());
    EXPECT_TRUE(has_error(result, part)) << "wanted '" << part << "' in:\n"
                                         << joined(result.errors);
  };
  error_for([](RunOptions& o) { o.monitor_service = "Shop/web"; }, "namespace 'Shop'");
  error_for([](RunOptions& o) { o.monitor_service = "shop/9web"; }, "'9web' is not a Service name");
  error_for([](RunOptions& o) { o.monitor_service = "shop/"; }, "'' is not a Service name");
  error_for([](RunOptions& o) { o.monitor_service = "shop/web/x"; }, "is not a Service name");
  error_for([](RunOptions& o) { o.node_name = ""; }, "OPENSHIFT_HA_NODE_NAME");
  error_for([](RunOptions& o) { o.node_name = "Worker_0"; }, "invalid node name 'Worker_0'");
  error_for([](RunOptions& o) { o.k8s_api_host = ""; }, "KUBERNETES_SERVICE_HOST is not set");
  error_for([](RunOptions& o) { o.k8s_api_host = "bad host"; }, "invalid Kubernetes API host");
  error_for([](RunOptions& o) { o.k8s_api_port = "0"; }, "invalid Kubernetes API port '0'");
  error_for([](RunOptions& o) { o.k8s_api_port = "https"; }, "invalid Kubernetes API port");
  error_for([](RunOptions& o) { o.k8s_api_grace = "-1"; }, "invalid Kubernetes API grace '-1'");
}

TEST(ServiceCheck, OneReplacementCheckAtATime) {
  RunOptions o = service_options();
  o.check_script = "/bin/true";
  EXPECT_TRUE(has_error(build_plan(o, host()), "several health checks are set"));
  o.check_script = "  ";  // blank: no script, as ipfailover's empty OPENSHIFT_HA_CHECK_SCRIPT
  EXPECT_TRUE(build_plan(o, host()).ok());
  o.monitor_url = "http://198.18.7.37:32000/";
  EXPECT_TRUE(has_error(build_plan(o, host()), "several health checks are set"));
}

TEST(UrlCheck, KubeProxyHealthCheckNodePort) {
  RunOptions o;
  o.vips = "198.18.7.100";
  o.monitor_url = "http://198.18.7.37:32000/healthz";
  o.check_interval = "1";
  o.check_fall = 3;
  const PlanResult result = build_plan(o, host());
  ASSERT_TRUE(result.ok()) << joined(result.errors);
  const HealthPlan& health = result.plan.health;
  EXPECT_EQ(health.kind, HealthPlan::Kind::HttpGet);
  EXPECT_EQ(health.url, "http://198.18.7.37:32000/healthz");
  EXPECT_EQ(health.expected_status, 200);
  EXPECT_EQ(health.interval, seconds(1));
  EXPECT_EQ(health.timeout, seconds(1));
  EXPECT_EQ(health.fall, 3);
}

TEST(UrlCheck, BadUrlsAndStatusesAreErrors) {
  for (const char* url : {"198.18.7.37:32000/healthz", "ftp://198.18.7.37/", "http://",
                          "http:///healthz", "http://198.18.7.37:32000/a b"}) {
    RunOptions o;
    o.vips = "198.18.7.100";
    o.monitor_url = url;
    EXPECT_TRUE(has_error(build_plan(o, host()), "invalid monitor URL")) << url;
  }
  RunOptions o;
  o.vips = "198.18.7.100";
  o.monitor_url = "https://198.18.7.37:8443/ready";
  o.check_expect_status = 99;
  EXPECT_TRUE(has_error(build_plan(o, host()), "invalid expected HTTP status 99"));
  o.check_expect_status = 204;
  EXPECT_TRUE(build_plan(o, host()).ok());
}

TEST(KubernetesNames, FollowTheApiServersRules) {
  EXPECT_TRUE(is_dns1123_label("shop-1"));
  EXPECT_FALSE(is_dns1123_label("-shop"));
  EXPECT_FALSE(is_dns1123_label(std::string(64, 'a')));
  EXPECT_TRUE(is_dns1123_label("1shop"));
  EXPECT_FALSE(is_dns1035_label("1web"));
  EXPECT_TRUE(is_dns1035_label("web"));
  EXPECT_TRUE(is_dns1123_subdomain("ip-10-0-1-2.ec2.internal"));
  EXPECT_FALSE(is_dns1123_subdomain("worker..0"));
  EXPECT_FALSE(is_dns1123_subdomain("worker-0."));
  EXPECT_FALSE(is_dns1123_subdomain(""));
}

}  // namespace
}  // namespace vipd::config
