// The status socket: a Unix stream socket (abstract "@name" by default, so each network namespace
// has its own) on which `vipd status`, the probes and `vipd reload` talk to the daemon.
//
// Protocol: the client may send one request line ("status\n", "reload\n"); the daemon writes its
// answer and closes. A client that sends nothing (an older `vipd status`, `socat`) gets the status
// answer after a short wait (kSilentClientWait) or as soon as it shuts down its sending side. The
// daemon never blocks on a client: every connection is served from the event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "loop/event_loop.h"
#include "vipd/core/result.h"

namespace vipd::app {

inline constexpr std::chrono::milliseconds kSilentClientWait{20};
inline constexpr std::size_t kMaxRequestLine = 64;

class StatusServer {
 public:
  // The answer to one request ("status", "reload", or what the client sent); `request` is
  // "status" for a client that sent nothing.
  using Handler = std::function<std::string(std::string_view request)>;

  StatusServer() = default;
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // A path not starting with '@' is a filesystem socket: replaced if stale (nobody answers on
  // it), refused if another process listens on it.
  core::Status listen(const std::string& path);
  int fd() const { return fd_; }
  // Serves connections on `loop` from now on; `loop` must outlive the server or detach() first.
  core::Status attach(loop::EventLoop& loop, Handler handler);
  // Stops serving on the loop (pending clients are closed unanswered).
  void detach();

 private:
  struct Client {
    std::string received;
    std::uint64_t timer = 0;
  };
  void accept_clients();
  void on_readable(int client);
  void answer(int client, std::string_view request);

  int fd_ = -1;
  std::string path_;
  ino_t inode_ = 0;  // of our socket file (filesystem paths only)
  loop::EventLoop* loop_ = nullptr;
  Handler handler_;
  std::unordered_map<int, Client> clients_;
};

// Connects, sends `request` and reads the whole answer (the daemon closes after it); an error when
// it cannot connect or no complete answer came within `timeout`.
core::Result<std::string> query(const std::string& path, std::string_view request,
                                std::chrono::milliseconds timeout);
// query(path, "status", timeout).
core::Result<std::string> query_status(
    const std::string& path, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace vipd::app
