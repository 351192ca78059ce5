// A spawned helper program (check or notify script): posix_spawn without a shell, a pidfd for the
// event loop, and a kill that escalates from SIGTERM to SIGKILL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "vipd/core/result.h"
#include "vipd/core/unique_fd.h"

namespace vipd::proc {

class ChildProcess {
 public:
  ChildProcess() = default;
  // A moved-from process is no longer running (its pid is not signalled or reaped twice).
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  // Runs argv[0] (a path) with the daemon's environment, default signal handling and an empty
  // signal mask (the daemon blocks signals for its signalfd), stdin/stdout/stderr on /dev/null.
  core::Status spawn(const std::vector<std::string>& argv);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Readable when the child exited.
  int pidfd() const { return pidfd_.get(); }
  // Reaps the child if it exited; returns its wait status.
  std::optional<int> reap();
  void signal(int signo) const;

 private:
  pid_t pid_ = -1;
  core::UniqueFd pidfd_;
};

// Runs argv to completion (blocking, for start-up and shutdown tasks only); ok on exit 0, else what
// went wrong. Killed after `timeout`.
core::Status run_and_wait(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// "exited with status 1", "killed by signal 9".
std::string describe_wait_status(int status);

}  // namespace vipd::proc
