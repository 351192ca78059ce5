#include "k8s/endpoint_slice.h"

#include <nlohmann/json.hpp>
#include <optional>

namespace vipd::k8s {
namespace {

using Json = nlohmann::json;

// Accessors that never throw: a missing member or one of another type reads as absent.
const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::string> string_member(const Json& object, const char* key) {
  const Json* value = member(object, key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

// nil (absent or null) is the API's "unknown"; a value of another type is malformed.
enum class Tristate { Nil, True, False, Malformed };
Tristate bool_member(const Json& object, const char* key) {
  const Json* value = member(object, key);
  if (value == nullptr || value->is_null()) return Tristate::Nil;
  if (!value->is_boolean()) return Tristate::Malformed;
  return value->get<bool>() ? Tristate::True : Tristate::False;
}

Json parse_json(std::string_view text) {
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

std::string identity_of(const Json& endpoint) {
  if (const Json* ref = member(endpoint, "targetRef"); ref != nullptr && ref->is_object()) {
    const auto name = string_member(*ref, "name");
    if (name && !name->empty()) {
      return string_member(*ref, "kind").value_or("") + "/" +
             string_member(*ref, "namespace").value_or("") + "/" + *name;
    }
  }
  if (const Json* addresses = member(endpoint, "addresses");
      addresses != nullptr && addresses->is_array() && !addresses->empty() &&
      addresses->front().is_string()) {
    return "address/" + addresses->front().get<std::string>();
  }
  return {};
}

std::variant<Endpoint, ParseError> parse_endpoint(const Json& json, std::size_t index) {
  if (!json.is_object())
    return ParseError{"endpoint " + std::to_string(index) + " is not an object"};
  Endpoint endpoint;
  if (const Json* node = member(json, "nodeName"); node != nullptr && !node->is_null()) {
    if (!node->is_string())
      return ParseError{"endpoint " + std::to_string(index) + ": nodeName is not a string"};
    endpoint.node_name = node->get<std::string>();
  }
  const Json* conditions = member(json, "conditions");
  const Json empty = Json::object();
  const Json& held = conditions != nullptr && conditions->is_object() ? *conditions : empty;
  if (conditions != nullptr && !conditions->is_null() && !conditions->is_object())
    return ParseError{"endpoint " + std::to_string(index) + ": conditions is not an object"};
  const Tristate ready = bool_member(held, "ready");
  const Tristate serving = bool_member(held, "serving");
  const Tristate terminating = bool_member(held, "terminating");
  if (ready == Tristate::Malformed || serving == Tristate::Malformed ||
      terminating == Tristate::Malformed) {
    return ParseError{"endpoint " + std::to_string(index) + ": a condition is not a boolean"};
  }
  // discovery.k8s.io/v1 EndpointConditions: a nil ready is interpreted as true; a nil serving
  // defers to ready; a nil terminating means not terminating.
  endpoint.ready = ready != Tristate::False;
  endpoint.serving = serving == Tristate::Nil ? endpoint.ready : serving == Tristate::True;
  endpoint.terminating = terminating == Tristate::True;
  endpoint.identity = identity_of(json);
  if (endpoint.identity.empty()) endpoint.identity = "#" + std::to_string(index);
  return endpoint;
}

std::variant<EndpointSlice, ParseError> parse_slice(const Json& json) {
  if (!json.is_object()) return ParseError{"EndpointSlice is not an object"};
  EndpointSlice slice;
  const Json* metadata = member(json, "metadata");
  if (metadata == nullptr || !metadata->is_object())
    return ParseError{"EndpointSlice without metadata"};
  const auto name = string_member(*metadata, "name");
  if (!name || name->empty()) return ParseError{"EndpointSlice without metadata.name"};
  slice.name = *name;
  slice.resource_version = string_member(*metadata, "resourceVersion").value_or("");
  slice.address_type = string_member(json, "addressType").value_or("");
  const Json* endpoints = member(json, "endpoints");
  // A slice without endpoints serializes them as null (Go's nil slice).
  if (endpoints == nullptr || endpoints->is_null()) return slice;
  if (!endpoints->is_array())
    return ParseError{"EndpointSlice " + slice.name + ": endpoints is not a list"};
  for (std::size_t i = 0; i < endpoints->size(); ++i) {
    auto parsed = parse_endpoint((*endpoints)[i], i);
    if (auto* error = std::get_if<ParseError>(&parsed)) {
      return ParseError{"EndpointSlice " + slice.name + ": " + error->message};
    }
    slice.endpoints.push_back(std::move(std::get<Endpoint>(parsed)));
  }
  return slice;
}

std::variant<ApiStatus, ParseError> status_from(const Json& json) {
  if (string_member(json, "kind").value_or("") != "Status")
    return ParseError{"not a Status object"};
  ApiStatus status;
  if (const Json* code = member(json, "code"); code != nullptr && code->is_number_integer()) {
    status.code = code->get<int>();
  }
  status.reason = string_member(json, "reason").value_or("");
  status.message = string_member(json, "message").value_or("");
  return status;
}

std::optional<EventType> event_type(const std::string& text) {
  if (text == "ADDED") return EventType::Added;
  if (text == "MODIFIED") return EventType::Modified;
  if (text == "DELETED") return EventType::Deleted;
  if (text == "BOOKMARK") return EventType::Bookmark;
  if (text == "ERROR") return EventType::Error;
  return std::nullopt;
}

}  // namespace

std::variant<SliceList, ParseError> parse_slice_list(std::string_view body) {
  const Json json = parse_json(body);
  if (json.is_discarded()) return ParseError{"list response is not JSON"};
  if (!json.is_object()) return ParseError{"list response is not an object"};
  if (string_member(json, "kind").value_or("") == "Status") {
    return ParseError{"list response is a Status object"};
  }
  SliceList list;
  const Json* metadata = member(json, "metadata");
  const auto version = metadata != nullptr ? string_member(*metadata, "resourceVersion")
                                           : std::optional<std::string>{};
  if (!version || version->empty()) return ParseError{"list response without resourceVersion"};
  list.resource_version = *version;
  const Json* items = member(json, "items");
  if (items == nullptr || items->is_null()) return list;  // an empty list may serialize as null
  if (!items->is_array()) return ParseError{"list response: items is not a list"};
  for (const Json& item : *items) {
    auto parsed = parse_slice(item);
    if (auto* error = std::get_if<ParseError>(&parsed)) return *error;
    list.slices.push_back(std::move(std::get<EndpointSlice>(parsed)));
  }
  return list;
}

std::variant<WatchEvent, ParseError> parse_watch_event(std::string_view line) {
  const Json json = parse_json(line);
  if (json.is_discarded()) return ParseError{"watch event is not JSON"};
  const auto type_text = string_member(json, "type");
  if (!type_text) return ParseError{"watch event without a type"};
  const auto type = event_type(*type_text);
  if (!type) return ParseError{"unknown watch event type '" + *type_text + "'"};
  const Json* object = member(json, "object");
  if (object == nullptr || !object->is_object()) return ParseError{"watch event without an object"};
  WatchEvent event;
  event.type = *type;
  if (*type == EventType::Error) {
    auto status = status_from(*object);
    if (auto* error = std::get_if<ParseError>(&status))
      return ParseError{"ERROR event: " + error->message};
    event.status = std::get<ApiStatus>(status);
    return event;
  }
  if (*type == EventType::Bookmark) {
    // Only metadata.resourceVersion is set (the API concepts page, "Watch bookmarks").
    const Json* metadata = member(*object, "metadata");
    const auto version =
        metadata != nullptr ? string_member(*metadata, "resourceVersion") : std::nullopt;
    if (!version || version->empty()) return ParseError{"BOOKMARK without resourceVersion"};
    event.resource_version = *version;
    return event;
  }
  auto slice = parse_slice(*object);
  if (auto* error = std::get_if<ParseError>(&slice)) return *error;
  event.slice = std::move(std::get<EndpointSlice>(slice));
  event.resource_version = event.slice.resource_version;
  if (event.resource_version.empty())
    return ParseError{*type_text + " event without resourceVersion"};
  return event;
}

std::variant<ApiStatus, ParseError> parse_status(std::string_view body) {
  const Json json = parse_json(body);
  if (json.is_discarded()) return ParseError{"not JSON"};
  return status_from(json);
}

std::string describe(const ApiStatus& status) {
  std::string text = std::to_string(status.code);
  if (!status.reason.empty()) text += " " + status.reason;
  if (!status.message.empty()) text += ": " + status.message;
  return text;
}

}  // namespace vipd::k8s
