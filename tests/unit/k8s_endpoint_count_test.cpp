// Counting a Service's ready endpoints on this node across its EndpointSlices, as kept from a list
// and the watch events after it (MetalLB's rule for externalTrafficPolicy: Local).
#include "k8s/endpoint_count.h"

#include <gtest/gtest.h>

#include "k8s_fixture.h"

namespace vipd::k8s {
namespace {

SliceList recorded_list() {
  auto parsed = parse_slice_list(testing::fixture("slice_list.json"));
  EXPECT_TRUE(std::holds_alternative<SliceList>(parsed));
  return std::get<SliceList>(std::move(parsed));
}

WatchEvent recorded_event(std::size_t line) {
  auto parsed = parse_watch_event(testing::fixture_lines("watch_stream.jsonl").at(line));
  EXPECT_TRUE(std::holds_alternative<WatchEvent>(parsed));
  return std::get<WatchEvent>(std::move(parsed));
}

Endpoint endpoint(std::string node, bool ready, std::string identity) {
  Endpoint result;
  result.node_name = std::move(node);
  result.ready = ready;
  result.identity = std::move(identity);
  return result;
}

EndpointSlice slice(std::string name, std::vector<Endpoint> endpoints) {
  EndpointSlice result;
  result.name = std::move(name);
  result.endpoints = std::move(endpoints);
  return result;
}

TEST(ServiceEndpoints, CountsTheRecordedListPerNode) {
  ServiceEndpoints endpoints;
  endpoints.replace_all(recorded_list().slices);
  EXPECT_EQ(endpoints.slices(), 4u);

  // worker-0: one pod, listed in the IPv4 and the IPv6 slice: one backend, not two.
  const EndpointCount worker0 = endpoints.count("worker-0");
  EXPECT_EQ(worker0.local_ready, 1);
  EXPECT_EQ(worker0.local_not_ready, 0);
  // Elsewhere: worker-1's pod and the manually managed endpoint without a node.
  EXPECT_EQ(worker0.ready_elsewhere, 2);
  EXPECT_EQ(worker0.ready_nodes, std::vector<std::string>{"worker-1"});

  // worker-2's only pod is terminating (ready false, serving true): not counted as ready.
  const EndpointCount worker2 = endpoints.count("worker-2");
  EXPECT_EQ(worker2.local_ready, 0);
  EXPECT_EQ(worker2.local_not_ready, 1);
  EXPECT_EQ(worker2.ready_nodes, (std::vector<std::string>{"worker-0", "worker-1"}));

  // A node with no endpoint at all, and the endpoint without nodeName never counting as local.
  EXPECT_EQ(endpoints.count("worker-9").local_ready, 0);
  EXPECT_EQ(endpoints.count("").local_ready, 0);
}

TEST(ServiceEndpoints, WatchEventsUpdateTheCount) {
  ServiceEndpoints endpoints;
  endpoints.replace_all(recorded_list().slices);
  // MODIFIED: worker-0's pod starts terminating in the IPv4 slice. The IPv6 slice still says
  // ready, but an unready copy wins: the backend is not ready.
  endpoints.upsert(recorded_event(0).slice);
  EXPECT_EQ(endpoints.count("worker-0").local_ready, 0);
  EXPECT_EQ(endpoints.count("worker-0").local_not_ready, 1);
  // ADDED: a new slice with a fresh pod on worker-0.
  endpoints.upsert(recorded_event(1).slice);
  EXPECT_EQ(endpoints.count("worker-0").local_ready, 1);
  EXPECT_EQ(endpoints.slices(), 5u);
  // DELETED: the drained slice goes.
  endpoints.remove(recorded_event(3).slice.name);
  EXPECT_EQ(endpoints.slices(), 4u);
  endpoints.remove("no-such-slice");
  EXPECT_EQ(endpoints.slices(), 4u);
}

TEST(ServiceEndpoints, ReplaceAllForgetsSlicesMissingFromTheNewList) {
  ServiceEndpoints endpoints;
  endpoints.upsert(slice("old", {endpoint("n1", true, "Pod/a/p1")}));
  EXPECT_EQ(endpoints.count("n1").local_ready, 1);
  endpoints.replace_all({slice("new", {endpoint("n2", true, "Pod/a/p2")})});
  EXPECT_EQ(endpoints.count("n1").local_ready, 0);
  EXPECT_EQ(endpoints.count("n2").local_ready, 1);
  EXPECT_EQ(endpoints.slices(), 1u);
}

TEST(ServiceEndpoints, CountsDistinctBackendsNotEntries) {
  ServiceEndpoints endpoints;
  endpoints.upsert(
      slice("v4", {endpoint("n1", true, "Pod/a/p1"), endpoint("n1", true, "Pod/a/p2")}));
  endpoints.upsert(
      slice("v6", {endpoint("n1", true, "Pod/a/p1"), endpoint("n1", true, "Pod/a/p2")}));
  EXPECT_EQ(endpoints.count("n1").local_ready, 2);
  // Endpoints without a name of their own stay apart, even with the same index in two slices.
  endpoints.upsert(slice("x", {endpoint("n1", true, "#0")}));
  endpoints.upsert(slice("y", {endpoint("n1", true, "#0")}));
  EXPECT_EQ(endpoints.count("n1").local_ready, 4);
}

TEST(ServiceEndpoints, UpsertReplacesASliceWhole) {
  ServiceEndpoints endpoints;
  endpoints.upsert(
      slice("s", {endpoint("n1", true, "Pod/a/p1"), endpoint("n1", true, "Pod/a/p2")}));
  endpoints.upsert(slice("s", {endpoint("n1", false, "Pod/a/p1")}));
  const EndpointCount count = endpoints.count("n1");
  EXPECT_EQ(count.local_ready, 0);
  EXPECT_EQ(count.local_not_ready, 1);
}

TEST(ServiceEndpoints, NoSlicesCountsNothing) {
  ServiceEndpoints endpoints;
  const EndpointCount count = endpoints.count("n1");
  EXPECT_EQ(count.slices, 0u);
  EXPECT_EQ(count.local_ready, 0);
  EXPECT_EQ(count.ready_elsewhere, 0);
}

}  // namespace
}  // namespace vipd::k8s
