#include "health/health_checker.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "k8s/kube_proxy_answer.h"

namespace vipd::health {
namespace {

constexpr core::Time kKillGrace =
    std::chrono::seconds(2);  // keepalived: SIGTERM, SIGKILL 2 s later
// kube-proxy's answer is a few hundred bytes; anything much larger is not a health answer.
constexpr std::size_t kMaxHttpBody = 64 * 1024;

}  // namespace

HealthChecker::HealthChecker(loop::EventLoop& loop, config::HealthPlan plan,
                             StatusHandler on_status)
    : loop_(loop),
      plan_(std::move(plan)),
      on_status_(std::move(on_status)),
      interval_timer_(loop.allocate_timer_id()),
      timeout_timer_(loop.allocate_timer_id()),
      kill_timer_(loop.allocate_timer_id()) {}

HealthChecker::~HealthChecker() {
  close_probe();
  if (script_.running()) script_.signal(SIGKILL);
  loop_.cancel_timer(interval_timer_);
  loop_.cancel_timer(timeout_timer_);
  loop_.cancel_timer(kill_timer_);
}

void HealthChecker::start() {
  run_check(false);
}

void HealthChecker::on_refused(std::uint16_t port, std::uint64_t refusals) {
  if (!plan_.fast_fail || plan_.kind != config::HealthPlan::Kind::TcpPort || port != plan_.port)
    return;
  if (running_) return;  // the check under way answers the same question
  ++fast_checks_;
  spdlog::info("{}: port {} refused a connection ({} refusals seen by the kernel): checking now",
               plan_.name, port, refusals);
  run_check(true);
}

void HealthChecker::run_check(bool out_of_cycle) {
  if (!out_of_cycle) {
    loop_.set_timer(interval_timer_, loop::monotonic_now() + plan_.interval,
                    [this](core::Time) { run_check(false); });
  }
  if (running_) return;  // never overlap: a slow check simply skips a round
  running_ = true;
  ++checks_run_;
  check_started_ = loop::monotonic_now();
  loop_.set_timer(timeout_timer_, loop::monotonic_now() + plan_.timeout,
                  [this](core::Time) { on_timeout(); });
  if (plan_.kind == config::HealthPlan::Kind::TcpPort) {
    start_tcp();
  } else if (plan_.kind == config::HealthPlan::Kind::HttpGet) {
    start_http();
  } else {
    start_script();
  }
}

void HealthChecker::start_tcp() {
  tcp_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (tcp_fd_ < 0) {
    finish(false, core::errno_error("socket", errno).message);
    return;
  }
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(plan_.port);
  std::memcpy(&target.sin_addr, plan_.address.data(), 4);
  if (connect(tcp_fd_, reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0) {
    finish(true, "connected");
    return;
  }
  if (errno != EINPROGRESS) {
    finish(false, core::errno_text(errno));
    return;
  }
  loop_.add_fd(tcp_fd_, EPOLLOUT, [this](std::uint32_t) { on_tcp_ready(); });
}

void HealthChecker::on_tcp_ready() {
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(tcp_fd_, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error == 0) {
    finish(true, "connected");
  } else {
    finish(false, core::errno_text(error));
  }
}

void HealthChecker::start_http() {
  if (!http_) {
    auto client = std::make_unique<http::Client>(loop_);
    if (core::Status status = client->init(); !status) {
      finish(false, status.message());
      return;
    }
    http_ = std::move(client);
  }
  http::Request request;
  request.url = plan_.url;
  request.user_agent = "vipd (" + plan_.name + ")";
  request.connect_timeout = plan_.timeout;
  // The check's own timeout timer ends it first; libcurl's is only a backstop.
  request.timeout = plan_.timeout + std::chrono::seconds(1);
  http_body_.clear();
  http_request_ = http_->start(
      request,
      [this](long, std::string_view chunk) {
        if (http_body_.size() + chunk.size() > kMaxHttpBody) return false;
        http_body_.append(chunk);
        return true;
      },
      [this](const http::Result& result) { on_http_done(result); });
}

void HealthChecker::on_http_done(const http::Result& result) {
  http_request_ = 0;
  if (!result.error.empty()) {
    finish(false, result.aborted ? "answer larger than 64 KiB" : result.error);
    return;
  }
  const k8s::HealthAnswer answer =
      k8s::judge_health_answer(result.status, http_body_, plan_.expected_status);
  finish(answer.healthy, answer.detail);
}

void HealthChecker::start_script() {
  if (core::Status status = script_.spawn(plan_.script_argv); !status) {
    finish(false, status.message());
    return;
  }
  loop_.add_fd(script_.pidfd(), EPOLLIN, [this](std::uint32_t) { on_script_exit(); });
}

void HealthChecker::on_script_exit() {
  const int pidfd = script_.pidfd();
  const auto status = script_.reap();
  if (!status) return;
  loop_.remove_fd(pidfd);
  loop_.cancel_timer(kill_timer_);
  if (killing_) {
    killing_ = false;
    finish(false, "timed_out", Ending::TimedOut);
    return;
  }
  finish(*status == 0, proc::describe_wait_status(*status));
}

void HealthChecker::on_timeout() {
  if (plan_.kind == config::HealthPlan::Kind::TcpPort ||
      plan_.kind == config::HealthPlan::Kind::HttpGet) {
    finish(false, "timed_out", Ending::TimedOut);
    return;
  }
  if (!script_.running()) return;
  killing_ = true;
  script_.signal(SIGTERM);
  loop_.set_timer(kill_timer_, loop::monotonic_now() + kKillGrace,
                  [this](core::Time) { script_.signal(SIGKILL); });
}

void HealthChecker::close_probe() {
  if (http_request_ != 0) {
    http_->cancel(http_request_);
    http_request_ = 0;
  }
  if (tcp_fd_ >= 0) {
    loop_.remove_fd(tcp_fd_);
    close(tcp_fd_);
    tcp_fd_ = -1;
  }
}

void CheckDurations::record(core::Time took) {
  const double seconds = std::chrono::duration<double>(took).count();
  ++count;
  sum += seconds;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++buckets[i];
      return;
    }
  }
}

void HealthChecker::finish(bool ok, const std::string& detail, Ending ending) {
  close_probe();
  loop_.cancel_timer(timeout_timer_);
  if (running_) durations_.record(loop::monotonic_now() - check_started_);
  running_ = false;
  if (ok) {
    ++successes_;
    failures_ = 0;
  } else {
    ++failures_;
    successes_ = 0;
  }
  Health next = status_;
  if (ok &&
      (status_ == Health::Unknown || (status_ == Health::Failed && successes_ >= plan_.rise))) {
    next = Health::Healthy;
  } else if (!ok && (status_ == Health::Unknown ||
                     (status_ == Health::Healthy && failures_ >= plan_.fall))) {
    next = Health::Failed;
  }
  if (next == status_) return;
  status_ = next;
  if (next == Health::Healthy) {
    spdlog::info("VRRP_Script({}) succeeded", plan_.name);
  } else if (ending == Ending::TimedOut) {
    spdlog::info("VRRP_Script({}) timed_out", plan_.name);
  } else {
    spdlog::info("VRRP_Script({}) failed ({})", plan_.name, detail);
  }
  if (on_status_) on_status_(next, detail);
}

}  // namespace vipd::health
