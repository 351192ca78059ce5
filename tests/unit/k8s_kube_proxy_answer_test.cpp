// kube-proxy's healthCheckNodePort answers judged as a load balancer judges them.
#include "k8s/kube_proxy_answer.h"

#include <gtest/gtest.h>

#include "k8s_fixture.h"

namespace vipd::k8s {
namespace {

TEST(KubeProxyAnswer, LocalEndpointsAnswerHealthy) {
  const HealthAnswer answer =
      judge_health_answer(200, testing::fixture("kube_proxy_200.json"), 200);
  EXPECT_TRUE(answer.healthy);
  EXPECT_EQ(answer.detail, "HTTP 200, localEndpoints 2");
}

TEST(KubeProxyAnswer, NoLocalEndpointIs503) {
  const HealthAnswer answer =
      judge_health_answer(503, testing::fixture("kube_proxy_503.json"), 200);
  EXPECT_FALSE(answer.healthy);
  EXPECT_EQ(answer.detail, "HTTP 503, localEndpoints 0");
}

TEST(KubeProxyAnswer, AnUnhealthyProxyFailsEvenWithLocalEndpoints) {
  // kube-proxy answers 503 while its own rules are stale, whatever the count.
  const HealthAnswer answer = judge_health_answer(
      503,
      R"({"service":{"namespace":"shop","name":"web"},"localEndpoints":1,"serviceProxyHealthy":false})",
      200);
  EXPECT_FALSE(answer.healthy);
  EXPECT_EQ(answer.detail, "HTTP 503, localEndpoints 1, serviceProxyHealthy false");
}

TEST(KubeProxyAnswer, ABodyThatSaysNoLocalEndpointFailsDespite200) {
  EXPECT_FALSE(judge_health_answer(200, R"({"localEndpoints":0})", 200).healthy);
}

TEST(KubeProxyAnswer, OtherServersAreJudgedByTheStatusAlone) {
  EXPECT_TRUE(judge_health_answer(204, "", 204).healthy);
  EXPECT_TRUE(judge_health_answer(200, "ok\n", 200).healthy);
  EXPECT_FALSE(judge_health_answer(500, "ok\n", 200).healthy);
  EXPECT_EQ(judge_health_answer(404, "not found", 200).detail, "HTTP 404");
}

}  // namespace
}  // namespace vipd::k8s
