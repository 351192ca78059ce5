// keepalived-compatible notify script: `<script> INSTANCE <name> MASTER|BACKUP|FAULT|STOP
// <priority>` on every transition. Per instance, notifications run one at a time in order; nothing
// here ever blocks the protocol loop.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "loop/event_loop.h"
#include "proc/child_process.h"

namespace vipd::health {

class Notifier {
 public:
  Notifier(loop::EventLoop& loop, std::vector<std::string> script_argv)
      : loop_(loop), script_argv_(std::move(script_argv)) {}
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void notify(const std::string& instance, const std::string& state, int priority);
  // At shutdown: start everything still queued without waiting for it.
  void flush_detached();

 private:
  struct Queue {
    std::deque<std::vector<std::string>> pending;
    proc::ChildProcess child;
  };
  void start_next(const std::string& instance);
  void on_exit(const std::string& instance);

  loop::EventLoop& loop_;
  std::vector<std::string> script_argv_;
  std::map<std::string, Queue> queues_;
};

}  // namespace vipd::health
