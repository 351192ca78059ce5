// The local-endpoint check: lists one Service's EndpointSlices, then watches them from the list's
// resourceVersion (with bookmarks), re-lists after 410 Gone or a broken watch, retries a failing
// API with backoff, and reports whether this node has a ready endpoint. Through API outages the
// last verdict stays (k8s/endpoint_verdict.h). Everything runs on the daemon's epoll loop.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>

#include "config/plan.h"
#include "http/http_client.h"
#include "k8s/endpoint_count.h"
#include "k8s/endpoint_verdict.h"
#include "k8s/retry_backoff.h"
#include "k8s/watch_lines.h"
#include "loop/event_loop.h"

namespace vipd::k8s {

class EndpointWatch {
 public:
  // Called when the verdict changes; `detail` says why (for logs and notify scripts).
  using StatusHandler = std::function<void(Verdict verdict, const std::string& detail)>;

  // `user_agent`: what the API server's audit log shows, "vipd/<version>".
  EndpointWatch(loop::EventLoop& loop, config::HealthPlan plan, std::string user_agent,
                StatusHandler on_status);
  ~EndpointWatch();
  EndpointWatch(const EndpointWatch&) = delete;
  EndpointWatch& operator=(const EndpointWatch&) = delete;

  // Starts the first list; empty on success.
  core::Status start();
  Verdict verdict() const { return verdict_.verdict(); }
  // The `health_check` object of `vipd status --json`.
  nlohmann::json status_json() const;
  // What the metrics export.
  const EndpointVerdict& api() const { return verdict_; }
  const EndpointCount& count() const { return count_; }
  std::uint64_t failures() const { return failures_; }
  std::uint64_t relists_after_gone() const { return relists_after_gone_; }
  std::string service() const { return check_.namespace_name + "/" + check_.service; }

 private:
  enum class Ending { Gone, Failure };
  struct Restart {
    Ending ending;
    std::string why;
  };

  void list();
  void on_list_done(const http::Result& result);
  void watch();
  bool on_watch_bytes(long status, std::string_view chunk);
  bool on_watch_line(std::string_view line);
  void on_watch_done(const http::Result& result);
  void relist_after_gone(const std::string& why);
  void api_answered();
  void api_failed(const std::string& why);
  void on_stale_timer();
  void report(Verdict verdict);
  std::string describe_count() const;
  void start_request(const std::string& url, core::Time timeout, http::Client::BodyHandler on_body,
                     http::Client::DoneHandler on_done);

  loop::EventLoop& loop_;
  config::HealthPlan plan_;
  std::string user_agent_;
  const config::ServiceCheckPlan& check_;
  StatusHandler on_status_;
  http::Client http_;
  ServiceEndpoints endpoints_;
  EndpointCount count_;
  EndpointVerdict verdict_;
  RetryBackoff backoff_;
  WatchLines lines_;
  std::minstd_rand random_;  // spreads the watches' timeoutSeconds
  std::string body_;         // a list response, or the Status body of a failed request
  std::string resource_version_;
  std::optional<Restart> restart_;  // why the watch is being ended from its body handler
  const std::uint64_t retry_timer_;
  const std::uint64_t stale_timer_;
  core::Time last_list_{0};
  core::Time watch_started_{0};
  std::uint64_t lists_ = 0;
  std::uint64_t watches_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t bookmarks_ = 0;
  std::uint64_t relists_after_gone_ = 0;
  std::uint64_t failures_ = 0;
  std::string last_error_;
};

}  // namespace vipd::k8s
