// The daemon's single epoll loop: file descriptors with handlers, one timerfd driven by a deadline
// heap, and signals through signalfd. Everything the protocol does happens on this thread.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vipd/core/result.h"
#include "vipd/core/timing.h"

namespace vipd::loop {

// Monotonic clock (CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns) as protocol-core time.
core::Time monotonic_now();

// Deadlines keyed by an owner-chosen id; re-setting an id moves its deadline.
class TimerHeap {
 public:
  void set(std::uint64_t id, core::Time at);
  void cancel(std::uint64_t id);
  core::Time next() const;  // kNever when empty
  // Removes and returns the earliest id due at `now`, if any. One at a time, because a handler
  // may move or cancel other deadlines that were due a moment ago.
  std::optional<std::uint64_t> pop_due(core::Time now);
  std::size_t size() const { return by_id_.size(); }

 private:
  std::set<std::pair<core::Time, std::uint64_t>> by_time_;
  std::unordered_map<std::uint64_t, core::Time> by_id_;
};

class EventLoop {
 public:
  using FdHandler = std::function<void(std::uint32_t events)>;
  using TimerHandler = std::function<void(core::Time now)>;
  using SignalHandler = std::function<void(int signo)>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  core::Status init(const std::vector<int>& signals);
  core::Status add_fd(int fd, std::uint32_t events, FdHandler handler);
  // Changes the events a registered fd waits for (its handler stays). libcurl's socket callback
  // switches a socket between read and write interest this way.
  core::Status modify_fd(int fd, std::uint32_t events);
  void remove_fd(int fd);

  // A fresh id for set_timer; every owner of timers takes its ids from here so they never clash.
  std::uint64_t allocate_timer_id() { return next_timer_id_++; }
  void set_timer(std::uint64_t id, core::Time at, TimerHandler handler);
  void cancel_timer(std::uint64_t id);
  void on_signal(SignalHandler handler) { signal_handler_ = std::move(handler); }
  // Runs after every batch of events: where queued packets are flushed in one sendmmsg.
  void on_idle(std::function<void()> handler) { idle_handler_ = std::move(handler); }

  // Runs until stop(); returns 0, or -1 if epoll itself failed.
  int run();
  void stop() { running_ = false; }
  std::uint64_t wakeups() const { return wakeups_; }

 private:
  void rearm_timerfd();
  void handle_timerfd();
  void handle_signalfd();

  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int signal_fd_ = -1;
  bool running_ = false;
  bool dispatching_timers_ = false;
  std::uint64_t next_timer_id_ = 1;
  std::uint64_t wakeups_ = 0;
  core::Time armed_at_ = core::kNever;
  TimerHeap timers_;
  std::unordered_map<std::uint64_t, TimerHandler> timer_handlers_;
  std::unordered_map<int, FdHandler> fd_handlers_;
  SignalHandler signal_handler_;
  std::function<void()> idle_handler_;
};

}  // namespace vipd::loop
