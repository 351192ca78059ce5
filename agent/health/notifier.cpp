#include "health/notifier.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

namespace vipd::health {

Notifier::~Notifier() {
  for (auto& [instance, queue] : queues_) {
    if (queue.child.running()) loop_.remove_fd(queue.child.pidfd());
  }
}

void Notifier::notify(const std::string& instance, const std::string& state, int priority) {
  if (script_argv_.empty()) return;
  std::vector<std::string> argv = script_argv_;
  argv.insert(argv.end(), {"INSTANCE", instance, state, std::to_string(priority)});
  Queue& queue = queues_[instance];
  queue.pending.push_back(std::move(argv));
  if (!queue.child.running()) start_next(instance);
}

void Notifier::start_next(const std::string& instance) {
  Queue& queue = queues_[instance];
  while (!queue.pending.empty() && !queue.child.running()) {
    std::vector<std::string> argv = std::move(queue.pending.front());
    queue.pending.pop_front();
    if (core::Status status = queue.child.spawn(argv); !status) {
      spdlog::warn("({}) notify script: {}", instance, status.message());
      continue;
    }
    loop_.add_fd(queue.child.pidfd(), EPOLLIN,
                 [this, instance](std::uint32_t) { on_exit(instance); });
  }
}

void Notifier::on_exit(const std::string& instance) {
  Queue& queue = queues_[instance];
  const int pidfd = queue.child.pidfd();
  const auto status = queue.child.reap();
  if (!status) return;
  loop_.remove_fd(pidfd);
  if (*status != 0)
    spdlog::warn("({}) notify script {}", instance, proc::describe_wait_status(*status));
  start_next(instance);
}

void Notifier::flush_detached() {
  for (auto& [instance, queue] : queues_) {
    if (queue.child.running()) loop_.remove_fd(queue.child.pidfd());
    for (auto& argv : queue.pending) {
      proc::ChildProcess detached;
      if (core::Status status = detached.spawn(argv); !status) {
        spdlog::warn("({}) notify script: {}", instance, status.message());
      }
    }
    queue.pending.clear();
  }
}

}  // namespace vipd::health
