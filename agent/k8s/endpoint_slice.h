// EndpointSlice documents of the Kubernetes API (discovery.k8s.io/v1) read into the fields vipd
// counts: list responses, watch event lines and Status objects. Pure; malformed input is an error
// value, never an exception.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vipd::k8s {

struct Endpoint {
  std::string node_name;  // empty when the slice does not say (e.g. endpoints outside a node)
  // conditions.ready; the API reference says a nil (absent or null) value means ready.
  bool ready = true;
  bool serving = true;       // conditions.serving; nil defers to ready
  bool terminating = false;  // conditions.terminating; nil means not terminating
  // Names the backend across slices, so a dual-stack pod listed in an IPv4 and an IPv6 slice counts
  // once: targetRef "<kind>/<namespace>/<name>", else the first address.
  std::string identity;
};

struct EndpointSlice {
  std::string name;
  std::string resource_version;
  std::string address_type;  // IPv4, IPv6 or FQDN
  std::vector<Endpoint> endpoints;
};

// A `kind: Status` object: what the API server sends with a failure (401, 403, 410, ...).
struct ApiStatus {
  int code = 0;
  std::string reason;   // e.g. "Unauthorized", "Forbidden", "Expired", "Gone"
  std::string message;  // e.g. "too old resource version: 100 (900)"
};

struct SliceList {
  std::string resource_version;  // where a watch starts
  std::vector<EndpointSlice> slices;
};

enum class EventType { Added, Modified, Deleted, Bookmark, Error };

struct WatchEvent {
  EventType type = EventType::Bookmark;
  EndpointSlice slice;           // Added, Modified, Deleted
  std::string resource_version;  // every type but Error: where a resumed watch would start
  ApiStatus status;              // Error
};

struct ParseError {
  std::string message;
};

// The body of GET .../endpointslices (kind EndpointSliceList).
std::variant<SliceList, ParseError> parse_slice_list(std::string_view body);
// One line of a watch stream: {"type": "...", "object": {...}}.
std::variant<WatchEvent, ParseError> parse_watch_event(std::string_view line);
// A Status object (the body of a failed request); ParseError when the body is something else.
std::variant<ApiStatus, ParseError> parse_status(std::string_view body);

// "401 Unauthorized: <message>" for logs.
std::string describe(const ApiStatus& status);

}  // namespace vipd::k8s
