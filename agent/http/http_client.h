// HTTP(S) requests on the daemon's epoll loop through libcurl's multi interface: libcurl tells us
// which sockets to wait on and when to wake it (socket and timer callbacks), the loop tells libcurl
// what happened (curl_multi_socket_action). Nothing here blocks; name resolution, if any, runs in
// libcurl's resolver thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loop/event_loop.h"
#include "vipd/core/result.h"

namespace vipd::http {

struct Request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string ca_file;               // trust only this CA bundle; empty: libcurl's default store
  std::string user_agent;
  core::Time connect_timeout = std::chrono::seconds(5);
  core::Time timeout{0};  // the whole transfer; 0: none (a watch stream ends when the server says)
};

struct Result {
  long status = 0;    // HTTP status of the response; 0 when none arrived
  std::string error;  // empty when the transfer completed, whatever the status
  bool timed_out = false;
  bool aborted = false;  // the BodyHandler returned false (the answer was too large)
};

class Client {
 public:
  // Body bytes as they arrive, with the response's status. Return false to abort the transfer (its
  // DoneHandler then runs with an error). Must not cancel its own request or start new ones.
  using BodyHandler = std::function<bool(long status, std::string_view chunk)>;
  // Runs once per request (unless cancelled), outside libcurl's callbacks: it may start or cancel
  // requests.
  using DoneHandler = std::function<void(const Result& result)>;

  explicit Client(loop::EventLoop& loop);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  core::Status init();
  // Starts a request; returns its id (never 0). Handlers run on the loop.
  std::uint64_t start(const Request& request, BodyHandler on_body, DoneHandler on_done);
  // Ends a request without running its handlers; unknown ids are ignored.
  void cancel(std::uint64_t id);
  std::size_t active() const { return transfers_.size(); }

  struct Transfer;

 private:
  static int on_socket_change(void* easy, int socket, int what, void* self, void* socket_data);
  static int on_timer_change(void* multi, long timeout_ms, void* self);
  void on_socket_ready(int socket, std::uint32_t events);
  void on_timeout();
  void finish_completed();
  void fail_later(std::uint64_t id, std::string error);
  void release(std::uint64_t id);

  loop::EventLoop& loop_;
  void* multi_ = nullptr;  // CURLM*
  const std::uint64_t timer_id_;
  const std::uint64_t deferred_timer_id_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Transfer>> transfers_;
  std::unordered_map<int, std::uint32_t> watched_;  // socket -> epoll events registered
  std::vector<std::pair<std::uint64_t, std::string>> deferred_failures_;
};

}  // namespace vipd::http
