// `vipd status`: asks a running daemon over its status socket and prints a table or the raw JSON,
// or answers as a probe: --ready (every instance settled, receive path open) or --live (the
// daemon's event loop answered in time).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace vipd::app {

enum class StatusMode { Table, Json, Ready, Live };

struct StatusOptions {
  std::string interface;
  std::string socket;
  bool json = false;
  bool ready = false;
  bool live = false;
  double timeout_s = 2.0;

  StatusMode mode() const {
    if (ready) return StatusMode::Ready;
    if (live) return StatusMode::Live;
    return json ? StatusMode::Json : StatusMode::Table;
  }
};

void add_status_options(CLI::App& command, StatusOptions& options);
// The status sockets of the daemons running in this network namespace (abstract @vipd/*).
std::vector<std::string> running_daemons();
// Exit code: 0 when every daemon asked answered (and, as a probe, is ready / live), 1 otherwise.
int show_status(const StatusOptions& options);

// A probe's verdict on one daemon: the one line it prints and whether it passed.
struct ProbeVerdict {
  bool ok = false;
  std::string line;
};

// Ready: the answer is a status snapshot whose receive path is open (xdp or raw-socket) and whose
// instances are all BACKUP or MASTER (INIT, FAULT or STOP: not ready, each one named). An empty
// answer is no answer; `error` is query_status's reason then.
ProbeVerdict readiness(const std::string& socket, const std::string& answer,
                       const std::string& error = {});
// Live: a status snapshot came back within the timeout. The socket is served by the event loop, so
// an answer proves the loop turns; `error` is query_status's reason when nothing came.
ProbeVerdict liveness(const std::string& socket, const std::string& answer,
                      const std::string& error, std::chrono::milliseconds elapsed);

}  // namespace vipd::app
