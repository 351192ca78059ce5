// The status socket: a Unix stream socket (abstract "@name" by default, so each network namespace
// has its own) that answers every connection with one JSON snapshot and closes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include "vipd/core/result.h"

namespace vipd::app {

class StatusServer {
 public:
  StatusServer() = default;
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // A path not starting with '@' is a filesystem socket: replaced if stale (nobody answers on
  // it), refused if another process listens on it.
  core::Status listen(const std::string& path);
  int fd() const { return fd_; }
  // Accepts pending connections and writes `snapshot()` to each.
  void serve(const std::function<std::string()>& snapshot);

 private:
  int fd_ = -1;
  std::string path_;
  ino_t inode_ = 0;  // of our socket file (filesystem paths only)
};

// Connects, reads the whole answer (the daemon closes after it); an error when it cannot connect
// or no complete answer came within `timeout`.
core::Result<std::string> query_status(
    const std::string& path, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace vipd::app
