// Requests to the Kubernetes API server from inside the cluster: the paths that list and watch one
// Service's EndpointSlices (label kubernetes.io/service-name), the ServiceAccount's bearer token
// read afresh for every request (the kubelet rotates it) and the cluster CA as the only trust.
#pragma once

#include <string>

#include "config/plan.h"
#include "http/http_client.h"
#include "vipd/core/result.h"

namespace vipd::k8s {

// GET /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices?labelSelector=... on the server.
std::string slices_url(const config::ServiceCheckPlan& check);
// The same collection as a watch from `resource_version`, with bookmarks, ended by the server
// after `timeout_seconds`.
std::string watch_url(const config::ServiceCheckPlan& check, const std::string& resource_version,
                      int timeout_seconds);

// A GET of `url` with the token read now; a one-line error when the token cannot be read.
core::Result<http::Request> api_request(const config::ServiceCheckPlan& check,
                                        const std::string& url, core::Time timeout,
                                        const std::string& user_agent);

}  // namespace vipd::k8s
