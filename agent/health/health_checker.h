// The node's health check (ipfailover's chk_<name>): a native TCP connect to the monitored port, a
// check script, or an HTTP GET judged like kube-proxy's healthCheckNodePort, every interval, with
// keepalived's rise/fall counting, never overlapping itself, and run at once, out of cycle, when
// the kernel saw the monitored port refuse a connection (fast fail).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/plan.h"
#include "http/http_client.h"
#include "loop/event_loop.h"
#include "proc/child_process.h"

namespace vipd::health {

enum class Health : std::uint8_t { Unknown, Healthy, Failed };

// How long the checks took, for vipd_health_check_duration_seconds: counts per bucket (not
// cumulative), each bucket up to its bound in seconds; longer ones count only in `count`.
struct CheckDurations {
  static constexpr std::array<double, 10> kBounds = {0.001, 0.005, 0.01, 0.05, 0.1,
                                                     0.25,  0.5,   1,    2.5,  5};
  std::array<std::uint64_t, kBounds.size()> buckets{};
  std::uint64_t count = 0;
  double sum = 0;

  void record(core::Time took);
};

class HealthChecker {
 public:
  // Called when the counted status changes (after rise/fall); `detail` says why.
  using StatusHandler = std::function<void(Health status, const std::string& detail)>;

  HealthChecker(loop::EventLoop& loop, config::HealthPlan plan, StatusHandler on_status);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Runs the first check now, then every interval.
  void start();
  // The kernel saw `refusals` RSTs from the monitored port answering SYNs: check now.
  void on_refused(std::uint16_t port, std::uint64_t refusals);
  Health status() const { return status_; }
  std::uint64_t checks_run() const { return checks_run_; }
  std::uint64_t fast_checks() const { return fast_checks_; }
  const CheckDurations& durations() const { return durations_; }

 private:
  void run_check(bool out_of_cycle);
  void start_tcp();
  void start_script();
  void start_http();
  void on_http_done(const http::Result& result);
  void on_tcp_ready();
  void on_script_exit();
  void on_timeout();
  // How a probe ended besides its verdict: a timeout is logged in keepalived's words.
  enum class Ending : std::uint8_t { Answered, TimedOut };
  void finish(bool ok, const std::string& detail, Ending ending = Ending::Answered);
  void close_probe();

  loop::EventLoop& loop_;
  config::HealthPlan plan_;
  StatusHandler on_status_;
  Health status_ = Health::Unknown;
  int successes_ = 0;
  int failures_ = 0;
  bool running_ = false;
  bool killing_ = false;
  int tcp_fd_ = -1;
  proc::ChildProcess script_;
  std::unique_ptr<http::Client> http_;  // created at the first HTTP check
  std::uint64_t http_request_ = 0;
  std::string http_body_;
  const std::uint64_t interval_timer_;
  const std::uint64_t timeout_timer_;
  const std::uint64_t kill_timer_;
  std::uint64_t checks_run_ = 0;
  std::uint64_t fast_checks_ = 0;
  core::Time check_started_{0};
  CheckDurations durations_;
};

}  // namespace vipd::health
