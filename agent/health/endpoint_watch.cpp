#include "health/endpoint_watch.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <random>

#include "health/k8s_api_request.h"
#include "k8s/endpoint_slice.h"

namespace vipd::k8s {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr core::Time kListTimeout = seconds(30);
constexpr std::size_t kMaxBody = 16 * 1024 * 1024;  // a list of one Service's slices is far less
constexpr std::size_t kMaxErrorBody = 64 * 1024;
// The server ends each watch after timeoutSeconds, spread like client-go's reflector (5-10 min) so
// that nodes do not resume in step; the client's own limit is a backstop above it.
constexpr int kWatchMinSeconds = 300;
constexpr int kWatchMaxSeconds = 600;
constexpr core::Time kWatchBackstop = seconds(60);
// A watch that ends cleanly sooner than this is not resumed at once (a server ending every watch
// at once must not be hammered).
constexpr core::Time kMinWatchLife = seconds(1);
constexpr core::Time kFirstRetry = milliseconds(500);
constexpr core::Time kMaxRetry = seconds(30);

double to_seconds(core::Time t) {
  return std::chrono::duration<double>(t).count();
}

std::string http_failure(long status, const std::string& body) {
  std::string text = "HTTP " + std::to_string(status);
  const auto parsed = parse_status(body);
  if (const auto* status_object = std::get_if<ApiStatus>(&parsed)) {
    if (!status_object->reason.empty()) text += " " + status_object->reason;
    if (!status_object->message.empty()) text += ": " + status_object->message;
  }
  if (status == 401) text += " (the ServiceAccount token was rejected)";
  if (status == 403) text += " (the Role needs get, list and watch on endpointslices)";
  return text;
}

std::uint64_t seed_for(const std::string& node) {
  return std::hash<std::string>{}(node) ^ static_cast<std::uint64_t>(loop::monotonic_now().count());
}

}  // namespace

EndpointWatch::EndpointWatch(loop::EventLoop& loop, config::HealthPlan plan, std::string user_agent,
                             StatusHandler on_status)
    : loop_(loop),
      plan_(std::move(plan)),
      user_agent_(std::move(user_agent)),
      check_(plan_.service),
      on_status_(std::move(on_status)),
      http_(loop),
      verdict_(plan_.service.api_grace),
      backoff_(kFirstRetry, kMaxRetry, seed_for(plan_.service.node_name)),
      lines_(kMaxBody),
      random_(static_cast<std::minstd_rand::result_type>(
          seed_for(plan_.service.node_name) % 2147483646 + 1)),
      retry_timer_(loop.allocate_timer_id()),
      stale_timer_(loop.allocate_timer_id()) {}

EndpointWatch::~EndpointWatch() {
  loop_.cancel_timer(retry_timer_);
  loop_.cancel_timer(stale_timer_);
}

core::Status EndpointWatch::start() {
  if (core::Status status = http_.init(); !status) return status;
  spdlog::info("{}: watching the EndpointSlices of {}/{} at {} for ready endpoints on node {}",
               plan_.name, check_.namespace_name, check_.service, check_.api_server,
               check_.node_name);
  list();
  return {};
}

void EndpointWatch::start_request(const std::string& url, core::Time timeout,
                                  http::Client::BodyHandler on_body,
                                  http::Client::DoneHandler on_done) {
  auto request = api_request(check_, url, timeout, user_agent_);
  if (!request) {
    api_failed(request.message());  // schedules the retry
    return;
  }
  http_.start(*request, std::move(on_body), std::move(on_done));
}

void EndpointWatch::list() {
  ++lists_;
  last_list_ = loop::monotonic_now();
  body_.clear();
  start_request(
      slices_url(check_), kListTimeout,
      [this](long, std::string_view chunk) {
        if (body_.size() + chunk.size() > kMaxBody) return false;
        body_.append(chunk);
        return true;
      },
      [this](const http::Result& result) { on_list_done(result); });
}

void EndpointWatch::on_list_done(const http::Result& result) {
  if (!result.error.empty()) {
    api_failed("list: " + (result.aborted ? "answer larger than 16 MiB" : result.error));
    return;
  }
  if (result.status != 200) {
    api_failed("list: " + http_failure(result.status, body_));
    return;
  }
  auto parsed = parse_slice_list(body_);
  body_.clear();
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    api_failed("list: " + error->message);
    return;
  }
  auto& list = std::get<SliceList>(parsed);
  resource_version_ = list.resource_version;
  endpoints_.replace_all(std::move(list.slices));
  backoff_.reset();
  api_answered();
  watch();
}

void EndpointWatch::watch() {
  ++watches_;
  watch_started_ = loop::monotonic_now();
  lines_.clear();
  body_.clear();
  restart_.reset();
  const int timeout_seconds =
      std::uniform_int_distribution<int>(kWatchMinSeconds, kWatchMaxSeconds)(random_);
  start_request(
      watch_url(check_, resource_version_, timeout_seconds),
      seconds(timeout_seconds) + kWatchBackstop,
      [this](long status, std::string_view chunk) { return on_watch_bytes(status, chunk); },
      [this](const http::Result& result) { on_watch_done(result); });
}

bool EndpointWatch::on_watch_bytes(long status, std::string_view chunk) {
  if (status != 200) {
    // A refused watch (401, 403, 410, 500): keep its Status body for the log line.
    if (body_.size() + chunk.size() <= kMaxErrorBody) body_.append(chunk);
    return true;
  }
  const auto fed =
      lines_.feed(chunk, [this](std::string_view line) { return on_watch_line(line); });
  if (fed == WatchLines::Fed::Overflow)
    restart_ = Restart{Ending::Failure, "a watch event larger than 16 MiB"};
  return fed == WatchLines::Fed::Continue;
}

bool EndpointWatch::on_watch_line(std::string_view line) {
  auto parsed = parse_watch_event(line);
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    restart_ = Restart{Ending::Failure, "unreadable watch event: " + error->message};
    return false;
  }
  WatchEvent& event = std::get<WatchEvent>(parsed);
  switch (event.type) {
    case EventType::Error:
      // 410: the resourceVersion fell out of the server's history; everything else is a failure.
      restart_ = event.status.code == 410
                     ? Restart{Ending::Gone, describe(event.status)}
                     : Restart{Ending::Failure, "watch ERROR event " + describe(event.status)};
      return false;
    case EventType::Bookmark:
      ++bookmarks_;
      resource_version_ = event.resource_version;
      return true;
    case EventType::Added:
    case EventType::Modified:
      endpoints_.upsert(std::move(event.slice));
      break;
    case EventType::Deleted:
      endpoints_.remove(event.slice.name);
      break;
  }
  ++events_;
  resource_version_ = event.resource_version;
  api_answered();
  return true;
}

void EndpointWatch::on_watch_done(const http::Result& result) {
  if (restart_) {
    const Restart restart = *restart_;
    restart_.reset();
    if (restart.ending == Ending::Gone) {
      relist_after_gone(restart.why);
    } else {
      api_failed("watch: " + restart.why);
    }
    return;
  }
  if (!result.error.empty()) {
    // The connection broke (API server restarted, network): events may be lost, so list again.
    api_failed("watch: " + result.error);
    return;
  }
  if (result.status == 410) {
    relist_after_gone(http_failure(result.status, body_));
    return;
  }
  if (result.status != 200) {
    api_failed("watch: " + http_failure(result.status, body_));
    return;
  }
  // The server ended the watch after timeoutSeconds: resume from the last resourceVersion (kept
  // fresh by bookmarks), as the API documentation describes; a 410 then would mean a re-list.
  if (loop::monotonic_now() - watch_started_ < kMinWatchLife) {
    // A fixed pause, not the growing backoff: events must not wait longer because of it.
    loop_.set_timer(retry_timer_, loop::monotonic_now() + kMinWatchLife,
                    [this](core::Time) { watch(); });
    return;
  }
  watch();
}

void EndpointWatch::relist_after_gone(const std::string& why) {
  ++relists_after_gone_;
  spdlog::info("{}: watch of {}/{} expired ({}): listing again", plan_.name, check_.namespace_name,
               check_.service, why);
  // The API answered; only a server that keeps expiring a fresh list's version is retried slowly.
  const core::Time since_list = loop::monotonic_now() - last_list_;
  if (since_list >= kMinWatchLife) {
    list();
    return;
  }
  loop_.set_timer(retry_timer_, loop::monotonic_now() + backoff_.next(),
                  [this](core::Time) { list(); });
}

void EndpointWatch::api_answered() {
  const EndpointCount previous = count_;
  count_ = endpoints_.count(check_.node_name);
  const core::Time now = loop::monotonic_now();
  const auto answered = verdict_.answered(count_.local_ready, now);
  loop_.cancel_timer(stale_timer_);
  if (answered.outage_ended) {
    const Outage& outage = *answered.outage_ended;
    spdlog::info(
        "{}: the Kubernetes API answers again after {:.1f} s ({} failed attempt(s), the last: "
        "{}){}",
        plan_.name, to_seconds(outage.lasted), outage.failures, last_error_,
        outage.went_stale ? "; the check state is current again" : "");
  }
  if (answered.changed) {
    report(*answered.changed);
  } else if (previous.local_ready != count_.local_ready ||
             previous.local_not_ready != count_.local_not_ready) {
    spdlog::info("{}: {}", plan_.name, describe_count());
  }
}

void EndpointWatch::api_failed(const std::string& why) {
  ++failures_;
  last_error_ = why;
  const core::Time now = loop::monotonic_now();
  const Verdict kept = verdict_.verdict();
  const auto failure = verdict_.failed(now);
  if (failure.outage_started) {
    // Once per outage: every retry logging would flood the log of every node at once.
    if (kept == Verdict::Unknown) {
      spdlog::warn(
          "{}: Kubernetes API failed: {}; no state known yet, counting as failed until it answers "
          "(retrying with backoff)",
          plan_.name, why);
    } else {
      spdlog::warn(
          "{}: Kubernetes API failed: {}; keeping the last known state ({}) and retrying with "
          "backoff (reported stale after {:.0f} s)",
          plan_.name, why, to_string(kept), to_seconds(verdict_.grace()));
    }
  } else {
    spdlog::debug("{}: Kubernetes API still failing: {}", plan_.name, why);
  }
  if (failure.changed) report(*failure.changed);
  if (const core::Time at = verdict_.stale_at(); at != core::kNever) {
    loop_.set_timer(stale_timer_, at, [this](core::Time) { on_stale_timer(); });
  }
  loop_.set_timer(retry_timer_, now + backoff_.next(), [this](core::Time) { list(); });
}

void EndpointWatch::on_stale_timer() {
  const core::Time now = loop::monotonic_now();
  if (!verdict_.check_stale(now)) return;
  spdlog::error(
      "{}: no answer from the Kubernetes API for {:.0f} s (last error: {}): the check state ({}) "
      "is STALE and kept as it is, so that an API outage does not move VIPs off every node; "
      "still retrying",
      plan_.name, to_seconds(verdict_.outage_for(now)), last_error_, to_string(verdict_.verdict()));
}

void EndpointWatch::report(Verdict verdict) {
  std::string detail =
      verdict_.reachable() ? describe_count() : "no answer from the Kubernetes API: " + last_error_;
  if (verdict == Verdict::Healthy) {
    spdlog::info("VRRP_Script({}) succeeded ({})", plan_.name, detail);
  } else {
    spdlog::info("VRRP_Script({}) failed ({})", plan_.name, detail);
  }
  if (on_status_) on_status_(verdict, detail);
}

std::string EndpointWatch::describe_count() const {
  const std::string service = check_.namespace_name + "/" + check_.service;
  if (count_.slices == 0) return "no EndpointSlice of " + service;
  std::string text = std::to_string(count_.local_ready) + " ready endpoint(s) of " + service +
                     " on node " + check_.node_name;
  if (count_.local_not_ready > 0)
    text += ", " + std::to_string(count_.local_not_ready) + " not ready";
  if (count_.local_ready == 0) {
    std::string nodes;
    for (const std::string& node : count_.ready_nodes) nodes += (nodes.empty() ? "" : ", ") + node;
    text += nodes.empty() ? "; none ready on any node" : "; ready on: " + nodes;
  }
  return text;
}

nlohmann::json EndpointWatch::status_json() const {
  const core::Time now = loop::monotonic_now();
  return {
      {"name", plan_.name},
      {"kind", "service-endpoints"},
      {"status", to_string(verdict_.verdict())},
      {"service", check_.namespace_name + "/" + check_.service},
      {"node", check_.node_name},
      {"local_ready_endpoints", count_.local_ready},
      {"local_not_ready_endpoints", count_.local_not_ready},
      {"ready_endpoints_elsewhere", count_.ready_elsewhere},
      {"slices", count_.slices},
      {"resource_version", resource_version_},
      {"api_reachable", verdict_.reachable()},
      {"api_stale", verdict_.stale()},
      {"api_outage_ms",
       std::chrono::duration_cast<std::chrono::milliseconds>(verdict_.outage_for(now)).count()},
      {"api_outages", verdict_.outages()},
      {"api_failures", failures_},
      {"api_last_error", last_error_},
      {"lists", lists_},
      {"watches", watches_},
      {"watch_events", events_},
      {"bookmarks", bookmarks_},
      {"relists_after_gone", relists_after_gone_},
  };
}

}  // namespace vipd::k8s
