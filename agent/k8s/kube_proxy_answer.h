// Judges the answer of an HTTP health check the way a cloud load balancer judges kube-proxy's
// healthCheckNodePort: the expected status (200), and when the body is kube-proxy's JSON
// ({"service": {...}, "localEndpoints": N, ...}) at least one local endpoint. kube-proxy answers
// 503 when the node has no local endpoint or kube-proxy itself is unhealthy.
#pragma once

#include <string>
#include <string_view>

namespace vipd::k8s {

struct HealthAnswer {
  bool healthy = false;
  std::string detail;  // "HTTP 503, localEndpoints 0", for the check's log line
};

HealthAnswer judge_health_answer(long status, std::string_view body, long expected_status);

}  // namespace vipd::k8s
