#include "http/http_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <mutex>

namespace vipd::http {

struct Client::Transfer {
  std::uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  BodyHandler on_body;
  DoneHandler on_done;
  bool aborted_by_handler = false;
  std::array<char, CURL_ERROR_SIZE> error{};

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
  }
};

namespace {

// A dead peer on a quiet watch stream is noticed within KEEPIDLE + KEEPCNT * KEEPINTVL = 25 s.
constexpr long kKeepIdleS = 10;
constexpr long kKeepIntervalS = 5;
constexpr int kKeepCount = 3;

long to_ms(core::Time t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
}

std::size_t on_body_bytes(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Client::Transfer*>(user);
  const std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->on_body && !transfer->on_body(status, std::string_view(data, bytes))) {
    transfer->aborted_by_handler = true;
    return CURL_WRITEFUNC_ERROR;
  }
  return bytes;
}

int on_socket_created(void*, curl_socket_t socket, curlsocktype purpose) {
  if (purpose == CURLSOCKTYPE_IPCXN) {
    // libcurl sets SO_KEEPALIVE, TCP_KEEPIDLE and TCP_KEEPINTVL; the probe count it cannot set.
    setsockopt(socket, IPPROTO_TCP, TCP_KEEPCNT, &kKeepCount, sizeof kKeepCount);
  }
  return CURL_SOCKOPT_OK;
}

void ensure_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Client::Client(loop::EventLoop& loop)
    : loop_(loop),
      timer_id_(loop.allocate_timer_id()),
      deferred_timer_id_(loop.allocate_timer_id()) {}

Client::~Client() {
  // Removing an easy handle makes libcurl drop its sockets (CURL_POLL_REMOVE), so the loop holds
  // no handler into this object afterwards.
  for (auto& [id, transfer] : transfers_) curl_multi_remove_handle(multi_, transfer->easy);
  transfers_.clear();
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
  for (const auto& [socket, events] : watched_) loop_.remove_fd(socket);
  loop_.cancel_timer(timer_id_);
  loop_.cancel_timer(deferred_timer_id_);
}

core::Status Client::init() {
  ensure_global_init();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return core::Error{"curl_multi_init failed"};
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Client::on_socket_change);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Client::on_timer_change);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  return {};
}

std::uint64_t Client::start(const Request& request, BodyHandler on_body, DoneHandler on_done) {
  const std::uint64_t id = next_id_++;
  auto transfer = std::make_unique<Transfer>();
  transfer->id = id;
  transfer->on_body = std::move(on_body);
  transfer->on_done = std::move(on_done);
  transfer->easy = multi_ != nullptr ? curl_easy_init() : nullptr;
  Transfer* t = transfer.get();
  transfers_.emplace(id, std::move(transfer));
  if (t->easy == nullptr) {
    fail_later(id, multi_ == nullptr ? "HTTP client not initialised" : "curl_easy_init failed");
    return id;
  }
  CURL* easy = t->easy;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error.data());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body_bytes);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // In-cluster endpoints only (the API server's service address, a node's health check port):
  // a proxy from the environment (https_proxy) must never carry them, nor the bearer token.
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, to_ms(request.connect_timeout));
  if (request.timeout > core::Time{0})
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, to_ms(request.timeout));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, kKeepIdleS);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, kKeepIntervalS);
  curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, &on_socket_created);
  if (!request.ca_file.empty()) {
    // The cluster's CA only, as client-go does with a CA file: not the host's trust store too.
    curl_easy_setopt(easy, CURLOPT_CAINFO, request.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    // Read the file again for every new connection: the kubelet updates a projected ca.crt in
    // place when the cluster CA rotates (libcurl would otherwise keep the old one for 24 h).
    curl_easy_setopt(easy, CURLOPT_CA_CACHE_TIMEOUT, 0L);
  }
  if (!request.user_agent.empty())
    curl_easy_setopt(easy, CURLOPT_USERAGENT, request.user_agent.c_str());
  for (const std::string& header : request.headers) {
    curl_slist* grown = curl_slist_append(t->headers, header.c_str());
    if (grown == nullptr) {
      fail_later(id, "out of memory for request headers");
      return id;
    }
    t->headers = grown;
  }
  if (t->headers != nullptr) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  // Adding only schedules the transfer: libcurl asks for a timeout of 0 and starts it from the
  // loop's next timer expiry.
  if (const CURLMcode code = curl_multi_add_handle(multi_, easy); code != CURLM_OK) {
    fail_later(id, curl_multi_strerror(code));
  }
  return id;
}

void Client::cancel(std::uint64_t id) {
  release(id);
}

void Client::release(std::uint64_t id) {
  const auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  if (it->second->easy != nullptr && multi_ != nullptr)
    curl_multi_remove_handle(multi_, it->second->easy);
  transfers_.erase(it);
}

void Client::fail_later(std::uint64_t id, std::string error) {
  // Never run a DoneHandler from inside start(): the caller may not expect re-entry.
  deferred_failures_.emplace_back(id, std::move(error));
  loop_.set_timer(deferred_timer_id_, loop::monotonic_now(), [this](core::Time) {
    auto failures = std::move(deferred_failures_);
    deferred_failures_.clear();
    for (auto& [failed_id, message] : failures) {
      const auto it = transfers_.find(failed_id);
      if (it == transfers_.end()) continue;
      DoneHandler done = std::move(it->second->on_done);
      release(failed_id);
      if (done) done(Result{0, message, false});
    }
  });
}

int Client::on_socket_change(void*, int socket, int what, void* self, void*) {
  auto* client = static_cast<Client*>(self);
  const auto known = client->watched_.find(socket);
  if (what == CURL_POLL_REMOVE) {
    if (known != client->watched_.end()) {
      client->loop_.remove_fd(socket);
      client->watched_.erase(known);
    }
    return 0;
  }
  std::uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  if (known != client->watched_.end()) {
    if (known->second != events && client->loop_.modify_fd(socket, events).ok())
      known->second = events;
    return 0;
  }
  if (client->loop_
          .add_fd(socket, events,
                  [client, socket](std::uint32_t ready) { client->on_socket_ready(socket, ready); })
          .ok()) {
    client->watched_.emplace(socket, events);
  }
  return 0;
}

int Client::on_timer_change(void*, long timeout_ms, void* self) {
  auto* client = static_cast<Client*>(self);
  if (timeout_ms < 0) {
    client->loop_.cancel_timer(client->timer_id_);
    return 0;
  }
  // Not curl_multi_socket_action from here: libcurl forbids calling it from its own callback.
  client->loop_.set_timer(client->timer_id_,
                          loop::monotonic_now() + std::chrono::milliseconds(timeout_ms),
                          [client](core::Time) { client->on_timeout(); });
  return 0;
}

void Client::on_socket_ready(int socket, std::uint32_t events) {
  int flags = 0;
  if ((events & EPOLLIN) != 0) flags |= CURL_CSELECT_IN;
  if ((events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(multi_, socket, flags, &running);
  finish_completed();
}

void Client::on_timeout() {
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  finish_completed();
}

void Client::finish_completed() {
  // Collect first, then run handlers: a handler may start or cancel other transfers.
  std::vector<std::pair<std::uint64_t, Result>> finished;
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
    if (transfer == nullptr) continue;
    Result result;
    curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &result.status);
    const CURLcode code = message->data.result;
    if (code != CURLE_OK) {
      result.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      result.aborted = transfer->aborted_by_handler;
      if (transfer->aborted_by_handler) {
        result.error = "aborted by the body handler";
      } else if (transfer->error[0] != '\0') {
        result.error = transfer->error.data();
      } else {
        result.error = curl_easy_strerror(code);
      }
    }
    finished.emplace_back(transfer->id, std::move(result));
  }
  for (auto& [id, result] : finished) {
    const auto it = transfers_.find(id);
    if (it == transfers_.end()) continue;  // cancelled by an earlier handler of this batch
    DoneHandler done = std::move(it->second->on_done);
    release(id);  // before the handler, so that it can reuse the connection right away
    if (done) done(result);
  }
}

}  // namespace vipd::http
