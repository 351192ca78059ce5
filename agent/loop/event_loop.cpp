#include "loop/event_loop.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace vipd::loop {

core::Time monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return core::Time(std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec);
}

void TimerHeap::set(std::uint64_t id, core::Time at) {
  cancel(id);
  if (at == core::kNever) return;
  by_time_.emplace(at, id);
  by_id_[id] = at;
}

void TimerHeap::cancel(std::uint64_t id) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  by_time_.erase({it->second, id});
  by_id_.erase(it);
}

core::Time TimerHeap::next() const {
  return by_time_.empty() ? core::kNever : by_time_.begin()->first;
}

std::optional<std::uint64_t> TimerHeap::pop_due(core::Time now) {
  if (by_time_.empty() || by_time_.begin()->first > now) return std::nullopt;
  const std::uint64_t id = by_time_.begin()->second;
  by_time_.erase(by_time_.begin());
  by_id_.erase(id);
  return id;
}

EventLoop::EventLoop() = default;

EventLoop::~EventLoop() {
  for (const int fd : {signal_fd_, timer_fd_, epoll_fd_}) {
    if (fd >= 0) close(fd);
  }
}

core::Status EventLoop::init(const std::vector<int>& signals) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return core::errno_error("epoll_create1", errno);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) return core::errno_error("timerfd_create", errno);
  sigset_t mask;
  sigemptyset(&mask);
  for (const int signo : signals) sigaddset(&mask, signo);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return core::errno_error("sigprocmask", errno);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return core::errno_error("signalfd", errno);
  if (core::Status status = add_fd(timer_fd_, EPOLLIN, [this](std::uint32_t) { handle_timerfd(); });
      !status) {
    return status;
  }
  return add_fd(signal_fd_, EPOLLIN, [this](std::uint32_t) { handle_signalfd(); });
}

core::Status EventLoop::add_fd(int fd, std::uint32_t events, FdHandler handler) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return core::errno_error("epoll_ctl(ADD)", errno);
  }
  fd_handlers_[fd] = std::move(handler);
  return {};
}

core::Status EventLoop::modify_fd(int fd, std::uint32_t events) {
  if (fd_handlers_.find(fd) == fd_handlers_.end()) {
    return core::Error{"epoll_ctl(MOD): fd " + std::to_string(fd) + " is not registered"};
  }
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    return core::errno_error("epoll_ctl(MOD)", errno);
  }
  return {};
}

void EventLoop::remove_fd(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  fd_handlers_.erase(fd);
}

void EventLoop::set_timer(std::uint64_t id, core::Time at, TimerHandler handler) {
  timers_.set(id, at);
  if (at == core::kNever) {
    timer_handlers_.erase(id);
  } else {
    timer_handlers_[id] = std::move(handler);
  }
  rearm_timerfd();
}

void EventLoop::cancel_timer(std::uint64_t id) {
  timers_.cancel(id);
  timer_handlers_.erase(id);
  rearm_timerfd();
}

void EventLoop::rearm_timerfd() {
  if (dispatching_timers_) return;  // handle_timerfd re-arms once after the whole batch
  const core::Time next = timers_.next();
  if (next == armed_at_) return;
  armed_at_ = next;
  itimerspec spec{};
  if (next != core::kNever) {
    // it_value 0 would disarm: a deadline at time 0 or in the past still needs one expiry.
    const std::int64_t ns = std::max<std::int64_t>(next.count(), 1);
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void EventLoop::handle_timerfd() {
  std::uint64_t expirations = 0;
  [[maybe_unused]] const ssize_t n = read(timer_fd_, &expirations, sizeof expirations);
  armed_at_ = core::kNever;
  const core::Time now = monotonic_now();
  // timerfd_settime is expensive (an hrtimer reprogram): hundreds of instances expiring in one
  // wake-up must not pay it once each.
  dispatching_timers_ = true;
  while (const auto id = timers_.pop_due(now)) {
    auto it = timer_handlers_.find(*id);
    if (it == timer_handlers_.end()) continue;
    TimerHandler handler = std::move(it->second);
    timer_handlers_.erase(it);
    handler(now);
  }
  dispatching_timers_ = false;
  rearm_timerfd();
}

void EventLoop::handle_signalfd() {
  signalfd_siginfo info{};
  while (read(signal_fd_, &info, sizeof info) == sizeof info) {
    if (signal_handler_) signal_handler_(static_cast<int>(info.ssi_signo));
  }
}

int EventLoop::run() {
  running_ = true;
  constexpr int kMaxEvents = 32;
  epoll_event events[kMaxEvents];
  while (running_) {
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    ++wakeups_;
    for (int i = 0; i < n && running_; ++i) {
      const auto it = fd_handlers_.find(events[i].data.fd);
      if (it == fd_handlers_.end()) continue;
      FdHandler handler = it->second;  // a handler may remove itself
      handler(events[i].events);
    }
    if (idle_handler_) idle_handler_();
  }
  return 0;
}

}  // namespace vipd::loop
