#include "health/k8s_api_request.h"

#include <curl/curl.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace vipd::k8s {
namespace {

std::string escape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
  if (escaped == nullptr) return {};
  std::string result(escaped);
  curl_free(escaped);
  return result;
}

}  // namespace

std::string slices_url(const config::ServiceCheckPlan& check) {
  return check.api_server + "/apis/discovery.k8s.io/v1/namespaces/" + escape(check.namespace_name) +
         "/endpointslices?labelSelector=" + escape("kubernetes.io/service-name=" + check.service);
}

std::string watch_url(const config::ServiceCheckPlan& check, const std::string& resource_version,
                      int timeout_seconds) {
  return slices_url(check) + "&watch=1&resourceVersion=" + escape(resource_version) +
         "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeout_seconds);
}

core::Result<http::Request> api_request(const config::ServiceCheckPlan& check,
                                        const std::string& url, core::Time timeout,
                                        const std::string& user_agent) {
  std::ifstream file(check.token_file);
  if (!file) return core::Error{"cannot read the ServiceAccount token " + check.token_file};
  std::stringstream content;
  content << file.rdbuf();
  std::string token = content.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty())
    return core::Error{"the ServiceAccount token " + check.token_file + " is empty"};
  http::Request request;
  request.url = url;
  request.ca_file = check.ca_file;
  request.user_agent = user_agent;
  request.timeout = timeout;
  request.headers = {"Authorization: Bearer " + token, "Accept: application/json"};
  return request;
}

}  // namespace vipd::k8s
