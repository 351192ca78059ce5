// EndpointSlice documents (list, watch events, Status) read from the recorded fixtures, and the
// malformed inputs that must come back as errors rather than exceptions or guesses.
#include "k8s/endpoint_slice.h"

#include <gtest/gtest.h>

#include "k8s_fixture.h"

namespace vipd::k8s {
namespace {

using testing::fixture;
using testing::fixture_lines;

// By value: the variant is usually a temporary.
template <typename T>
T ok(const std::variant<T, ParseError>& parsed) {
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << "parse error: " << error->message;
    return T{};
  }
  return std::get<T>(parsed);
}

template <typename T>
std::string error_of(const std::variant<T, ParseError>& parsed) {
  const auto* error = std::get_if<ParseError>(&parsed);
  return error == nullptr ? std::string("<parsed>") : error->message;
}

TEST(EndpointSliceList, ReadsEverySliceOfTheRecordedList) {
  const auto parsed = parse_slice_list(fixture("slice_list.json"));
  const SliceList list = ok(parsed);
  EXPECT_EQ(list.resource_version, "2849041");
  ASSERT_EQ(list.slices.size(), 4u);
  EXPECT_EQ(list.slices[0].name, "web-7x2kq");
  EXPECT_EQ(list.slices[0].resource_version, "2849012");
  EXPECT_EQ(list.slices[0].address_type, "IPv4");
  EXPECT_EQ(list.slices[1].address_type, "IPv6");
  ASSERT_EQ(list.slices[0].endpoints.size(), 3u);
  const Endpoint& first = list.slices[0].endpoints[0];
  EXPECT_EQ(first.node_name, "worker-0");
  EXPECT_TRUE(first.ready);
  EXPECT_EQ(first.identity, "Pod/shop/web-5d9c7b7f4-x8j2p");
}

TEST(EndpointSliceList, DualStackSlicesNameTheSamePod) {
  const SliceList list = ok(parse_slice_list(fixture("slice_list.json")));
  ASSERT_EQ(list.slices[1].endpoints.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(list.slices[0].endpoints[i].identity, list.slices[1].endpoints[i].identity);
  }
}

TEST(EndpointSliceList, TerminatingEndpointIsServingButNotReady) {
  const SliceList list = ok(parse_slice_list(fixture("slice_list.json")));
  const Endpoint& terminating = list.slices[0].endpoints[2];
  EXPECT_EQ(terminating.node_name, "worker-2");
  EXPECT_FALSE(terminating.ready);
  EXPECT_TRUE(terminating.serving);
  EXPECT_TRUE(terminating.terminating);
}

TEST(EndpointSliceList, EmptyConditionsMeanReadyAndNoNodeNameStaysEmpty) {
  // discovery.k8s.io/v1 EndpointConditions: "A nil value should be interpreted as true".
  const SliceList list = ok(parse_slice_list(fixture("slice_list.json")));
  const EndpointSlice& legacy = list.slices[2];
  ASSERT_EQ(legacy.endpoints.size(), 1u);
  EXPECT_EQ(legacy.endpoints[0].node_name, "");
  EXPECT_TRUE(legacy.endpoints[0].ready);
  EXPECT_TRUE(legacy.endpoints[0].serving);
  EXPECT_FALSE(legacy.endpoints[0].terminating);
  EXPECT_EQ(legacy.endpoints[0].identity, "address/198.18.200.9");
}

TEST(EndpointSliceList, NullEndpointsIsAnEmptySlice) {
  const SliceList list = ok(parse_slice_list(fixture("slice_list.json")));
  EXPECT_EQ(list.slices[3].name, "web-drained");
  EXPECT_TRUE(list.slices[3].endpoints.empty());
}

TEST(EndpointSliceList, NullConditionValuesAreNil) {
  const SliceList list = ok(parse_slice_list(
      R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"7"},
          "items":[{"metadata":{"name":"a"},"addressType":"IPv4","endpoints":[
            {"addresses":["198.18.0.1"],"conditions":{"ready":null,"serving":false},"nodeName":"n"},
            {"addresses":["198.18.0.2"],"nodeName":null}]}]})"));
  ASSERT_EQ(list.slices.size(), 1u);
  ASSERT_EQ(list.slices[0].endpoints.size(), 2u);
  EXPECT_TRUE(list.slices[0].endpoints[0].ready);
  EXPECT_FALSE(list.slices[0].endpoints[0].serving);
  EXPECT_TRUE(list.slices[0].endpoints[1].ready);  // no conditions at all
  EXPECT_EQ(list.slices[0].endpoints[1].node_name, "");
}

TEST(EndpointSliceList, EmptyListMayCarryNullItems) {
  const SliceList list = ok(parse_slice_list(
      R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"9"},"items":null})"));
  EXPECT_EQ(list.resource_version, "9");
  EXPECT_TRUE(list.slices.empty());
}

TEST(EndpointSliceList, MalformedListsAreErrors) {
  EXPECT_EQ(error_of(parse_slice_list("<html>502 Bad Gateway</html>")),
            "list response is not JSON");
  EXPECT_EQ(error_of(parse_slice_list(fixture("status_401.json"))),
            "list response is a Status object");
  EXPECT_EQ(error_of(parse_slice_list(R"({"kind":"EndpointSliceList","items":[]})")),
            "list response without resourceVersion");
  EXPECT_EQ(error_of(parse_slice_list(R"({"metadata":{"resourceVersion":"1"},"items":{}})")),
            "list response: items is not a list");
  EXPECT_EQ(error_of(parse_slice_list(
                R"({"metadata":{"resourceVersion":"1"},"items":[{"metadata":{}}]})")),
            "EndpointSlice without metadata.name");
  EXPECT_EQ(
      error_of(parse_slice_list(
          R"({"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"s"},"endpoints":{}}]})")),
      "EndpointSlice s: endpoints is not a list");
  EXPECT_EQ(
      error_of(parse_slice_list(
          R"({"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"s"},"endpoints":[{"conditions":{"ready":"true"}}]}]})")),
      "EndpointSlice s: endpoint 0: a condition is not a boolean");
  EXPECT_EQ(
      error_of(parse_slice_list(
          R"({"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"s"},"endpoints":[{"nodeName":5}]}]})")),
      "EndpointSlice s: endpoint 0: nodeName is not a string");
}

TEST(WatchEvent, ReadsEachEventOfTheRecordedStream) {
  const auto lines = fixture_lines("watch_stream.jsonl");
  ASSERT_EQ(lines.size(), 5u);

  const WatchEvent modified = ok(parse_watch_event(lines[0]));
  EXPECT_EQ(modified.type, EventType::Modified);
  EXPECT_EQ(modified.slice.name, "web-7x2kq");
  EXPECT_EQ(modified.resource_version, "2849107");
  ASSERT_EQ(modified.slice.endpoints.size(), 2u);
  EXPECT_FALSE(modified.slice.endpoints[0].ready);
  EXPECT_TRUE(modified.slice.endpoints[0].serving);

  const WatchEvent added = ok(parse_watch_event(lines[1]));
  EXPECT_EQ(added.type, EventType::Added);
  EXPECT_EQ(added.slice.name, "web-p4h8n");
  EXPECT_EQ(added.resource_version, "2849122");

  const WatchEvent bookmark = ok(parse_watch_event(lines[2]));
  EXPECT_EQ(bookmark.type, EventType::Bookmark);
  EXPECT_EQ(bookmark.resource_version, "2851233");
  EXPECT_EQ(bookmark.slice.name, "");

  const WatchEvent deleted = ok(parse_watch_event(lines[3]));
  EXPECT_EQ(deleted.type, EventType::Deleted);
  EXPECT_EQ(deleted.slice.name, "web-drained");
  EXPECT_EQ(deleted.resource_version, "2851240");

  const WatchEvent gone = ok(parse_watch_event(lines[4]));
  EXPECT_EQ(gone.type, EventType::Error);
  EXPECT_EQ(gone.status.code, 410);
  EXPECT_EQ(gone.status.reason, "Expired");
  EXPECT_EQ(gone.status.message, "too old resource version: 2849041 (2853977)");
  EXPECT_EQ(describe(gone.status), "410 Expired: too old resource version: 2849041 (2853977)");
}

TEST(WatchEvent, MalformedEventsAreErrors) {
  EXPECT_EQ(error_of(parse_watch_event("{\"type\":\"ADDED\",")), "watch event is not JSON");
  EXPECT_EQ(error_of(parse_watch_event(R"({"object":{}})")), "watch event without a type");
  EXPECT_EQ(error_of(parse_watch_event(R"({"type":"SYNC","object":{}})")),
            "unknown watch event type 'SYNC'");
  EXPECT_EQ(error_of(parse_watch_event(R"({"type":"ADDED"})")), "watch event without an object");
  EXPECT_EQ(error_of(parse_watch_event(R"({"type":"BOOKMARK","object":{"metadata":{}}})")),
            "BOOKMARK without resourceVersion");
  EXPECT_EQ(
      error_of(parse_watch_event(R"({"type":"MODIFIED","object":{"metadata":{"name":"s"}}})")),
      "MODIFIED event without resourceVersion");
  EXPECT_EQ(error_of(parse_watch_event(R"({"type":"ERROR","object":{"kind":"Pod"}})")),
            "ERROR event: not a Status object");
}

TEST(ApiStatus, ReadsRejectionsWithTheirMessages) {
  const ApiStatus unauthorized = ok(parse_status(fixture("status_401.json")));
  EXPECT_EQ(unauthorized.code, 401);
  EXPECT_EQ(describe(unauthorized), "401 Unauthorized: Unauthorized");
  const ApiStatus forbidden = ok(parse_status(fixture("status_403.json")));
  EXPECT_EQ(forbidden.code, 403);
  EXPECT_EQ(forbidden.reason, "Forbidden");
  EXPECT_NE(forbidden.message.find("cannot list resource \"endpointslices\""), std::string::npos);
  const ApiStatus expired = ok(parse_status(fixture("status_410.json")));
  EXPECT_EQ(expired.code, 410);
  EXPECT_EQ(error_of(parse_status("Service Unavailable")), "not JSON");
  EXPECT_EQ(error_of(parse_status(fixture("slice_list.json"))), "not a Status object");
}

}  // namespace
}  // namespace vipd::k8s
