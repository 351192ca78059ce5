#include "proc/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <utility>

extern char** environ;

namespace vipd::proc {

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  pid_ = std::exchange(other.pid_, -1);
  pidfd_ = std::move(other.pidfd_);
  return *this;
}

core::Status ChildProcess::spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) return core::Error{"empty command"};
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return core::errno_error("cannot run " + argv[0], error);
  pid_ = pid;
  pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));  // close-on-exec by definition
  if (!pidfd_.valid()) return core::errno_error("pidfd_open", errno);
  return {};
}

std::optional<int> ChildProcess::reap() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done != pid_) return std::nullopt;
  pid_ = -1;
  pidfd_.reset();
  return status;
}

void ChildProcess::signal(int signo) const {
  // The child leads its own process group: a shell script's children go too.
  if (pid_ > 0) kill(-pid_, signo);
}

core::Status run_and_wait(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ChildProcess child;
  if (core::Status status = child.spawn(argv); !status) return status;
  // The pidfd turns readable when the child exits.
  pollfd exited{child.pidfd(), POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(&exited, 1, static_cast<int>(left.count())) > 0) break;
  }
  if (const auto status = child.reap()) {
    if (*status == 0) return {};
    return core::Error{argv[0] + " " + describe_wait_status(*status)};
  }
  child.signal(SIGKILL);
  poll(&exited, 1, 1000);  // SIGKILL is not delayed; reap it rather than leave a zombie
  child.reap();
  return core::Error{argv[0] + " did not finish in time"};
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace vipd::proc
