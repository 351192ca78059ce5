#include "app/status_socket.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>

namespace vipd::app {
namespace {

socklen_t make_address(const std::string& path, sockaddr_un& address) {
  address = {};
  address.sun_family = AF_UNIX;
  const std::size_t length = std::min(path.size(), sizeof(address.sun_path) - 1);
  std::memcpy(address.sun_path, path.data(), length);
  if (!path.empty() && path[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
}

bool someone_listens(const sockaddr_un& address, socklen_t length) {
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return false;
  const bool connected = connect(probe, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  close(probe);
  return connected;
}

ino_t inode_of(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 ? info.st_ino : 0;
}

}  // namespace

void StatusServer::detach() {
  for (const auto& [client, state] : clients_) {
    if (loop_ != nullptr) {
      loop_->remove_fd(client);
      loop_->cancel_timer(state.timer);
    }
    close(client);
  }
  clients_.clear();
  if (loop_ != nullptr && fd_ >= 0) loop_->remove_fd(fd_);
  loop_ = nullptr;
}

StatusServer::~StatusServer() {
  detach();
  if (fd_ >= 0) close(fd_);
  // Only our own socket file: a later vipd may have replaced it after we went stale.
  if (inode_ != 0 && inode_of(path_) == inode_) unlink(path_.c_str());
}

core::Status StatusServer::listen(const std::string& path) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return core::errno_error("status socket", errno);
  sockaddr_un address;
  const socklen_t length = make_address(path, address);
  const bool filesystem = path[0] != '@';
  if (filesystem) {
    // A socket file nobody answers on is left by a killed run; a live one belongs to another vipd.
    if (someone_listens(address, length))
      return core::Error{"status socket " + path +
                         ": in use (is another vipd running on this interface?)"};
    unlink(path.c_str());
  }
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    const int error = errno;
    core::Error failed = core::errno_error("status socket " + path, error);
    if (error == EADDRINUSE) failed.message += " (is another vipd running on this interface?)";
    return failed;
  }
  if (filesystem) inode_ = inode_of(path);
  if (::listen(fd_, 8) != 0) return core::errno_error("status socket listen", errno);
  path_ = path;
  return {};
}

core::Status StatusServer::attach(loop::EventLoop& loop, Handler handler) {
  loop_ = &loop;
  handler_ = std::move(handler);
  return loop.add_fd(fd_, EPOLLIN, [this](std::uint32_t) { accept_clients(); });
}

void StatusServer::accept_clients() {
  for (int budget = 0; budget < 16; ++budget) {
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) return;
    // A client that wrote its request before we got here is answered at once; a silent one (or
    // one whose line is still on its way) waits in the loop, bounded in number and time.
    clients_[client] = Client{};
    on_readable(client);
    if (!clients_.contains(client)) continue;
    if (clients_.size() > 16 ||
        !loop_->add_fd(client, EPOLLIN | EPOLLRDHUP,
                       [this, client](std::uint32_t) { on_readable(client); })) {
      answer(client, "status");
      continue;
    }
    const std::uint64_t timer = loop_->allocate_timer_id();
    clients_[client].timer = timer;
    loop_->set_timer(timer, loop::monotonic_now() + kSilentClientWait,
                     [this, client](core::Time) { answer(client, "status"); });
  }
}

void StatusServer::on_readable(int client) {
  const auto it = clients_.find(client);
  if (it == clients_.end()) return;
  std::string& received = it->second.received;
  char buffer[kMaxRequestLine];
  for (int rounds = 0; rounds < 4; ++rounds) {
    const ssize_t n = recv(client, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: the line is not complete yet
    if (n == 0) return answer(client, received.empty() ? "status" : received);
    received.append(buffer, static_cast<std::size_t>(n));
    if (const auto newline = received.find('\n'); newline != std::string::npos) {
      return answer(client, std::string_view(received).substr(0, newline));
    }
    if (received.size() >= kMaxRequestLine) return answer(client, received);
  }
}

void StatusServer::answer(int client, std::string_view request) {
  const auto it = clients_.find(client);
  if (it == clients_.end()) return;
  if (it->second.timer != 0) loop_->cancel_timer(it->second.timer);
  loop_->remove_fd(client);
  std::string_view line = request;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  const std::string text = handler_(line.empty() ? std::string_view("status") : line);
  clients_.erase(it);
  // The whole answer goes into the socket buffer at once, so the loop never waits for the
  // client: a snapshot is ~1 KiB per instance (255 instances: ~220 KiB, beyond the default
  // buffer, which cut it off). SO_SNDBUFFORCE passes wmem_max with CAP_NET_ADMIN (vipd has it);
  // without it SO_SNDBUF gets what wmem_max allows. A client that does not read is cut off.
  const int wanted = static_cast<int>(std::min<std::size_t>(text.size() + 4096, 64u << 20));
  if (setsockopt(client, SOL_SOCKET, SO_SNDBUFFORCE, &wanted, sizeof wanted) != 0) {
    setsockopt(client, SOL_SOCKET, SO_SNDBUF, &wanted, sizeof wanted);
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n =
        send(client, text.data() + written, text.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  close(client);
}

core::Result<std::string> query_status(const std::string& path, std::chrono::milliseconds timeout) {
  return query(path, "status", timeout);
}

core::Result<std::string> query(const std::string& path, std::string_view request,
                                std::chrono::milliseconds timeout) {
  // Non-blocking: a daemon whose loop is stuck stops accepting, its backlog fills, and a blocking
  // connect would then hang past any timeout (EAGAIN says so at once instead).
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return core::errno_error("status socket", errno);
  sockaddr_un address;
  const socklen_t length = make_address(path, address);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    const int error = errno;
    close(fd);
    if (error == EAGAIN) {
      return core::Error{
          path + " accepts no more connections: the daemon's event loop is not serving them"};
    }
    core::Error failed = core::errno_error("cannot connect to " + path, error);
    failed.message += " (is vipd running here?)";
    return failed;
  }
  // One line, far below the socket buffer: it goes out at once or the connection is broken.
  std::string line(request);
  line += '\n';
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) !=
      static_cast<ssize_t>(line.size())) {
    const int error = errno;
    close(fd);
    return core::errno_error("cannot send the request to " + path, error);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string answer;
  char buffer[4096];
  for (int rounds = 0; rounds < 4096; ++rounds) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd readable{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
      close(fd);  // a cut-off snapshot is no answer
      return core::Error{"no answer from " + path + " within " + std::to_string(timeout.count()) +
                         " ms"};
    }
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the daemon closes after the whole snapshot
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer;
}

}  // namespace vipd::app
