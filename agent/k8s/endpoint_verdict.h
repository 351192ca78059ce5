// The local-endpoint check's verdict from what the Kubernetes API says (how many ready endpoints
// this node has) and from its silences: an outage keeps the last verdict, is reported once, and
// turns "stale" after the grace period — still keeping the verdict, because the API going away
// for every node at once must not take the VIP off every node at once. Pure: time is passed in.
#pragma once

#include <cstdint>
#include <optional>

#include "vipd/core/timing.h"

namespace vipd::k8s {

enum class Verdict : std::uint8_t { Unknown, Healthy, Failed };

// An outage that has ended, for one log line.
struct Outage {
  core::Time lasted{0};
  std::uint64_t failures = 0;
  bool went_stale = false;
};

class EndpointVerdict {
 public:
  explicit EndpointVerdict(core::Time grace) : grace_(grace) {}

  struct Answered {
    std::optional<Verdict> changed;      // the new verdict, when it changed
    std::optional<Outage> outage_ended;  // the outage this answer ended
  };
  // The API answered: this node has `local_ready` ready endpoints of the Service.
  Answered answered(int local_ready, core::Time now);

  struct Failure {
    bool outage_started = false;     // the first failure of an outage: worth one log line
    std::optional<Verdict> changed;  // Failed, when there was no verdict yet to keep
  };
  // A request to the API failed (unreachable, TLS, 401/403, 5xx, malformed answer).
  Failure failed(core::Time now);

  // When the current outage turns stale; kNever when there is none or it already is.
  core::Time stale_at() const;
  // True exactly once per outage: when `now` has reached stale_at().
  bool check_stale(core::Time now);

  Verdict verdict() const { return verdict_; }
  bool reachable() const { return !outage_since_; }
  bool stale() const { return stale_; }
  // Length of the current outage (0 when reachable).
  core::Time outage_for(core::Time now) const;
  std::uint64_t outage_failures() const { return failures_; }
  std::uint64_t outages() const { return outages_; }
  core::Time grace() const { return grace_; }

 private:
  core::Time grace_;
  Verdict verdict_ = Verdict::Unknown;
  std::optional<core::Time> outage_since_;
  std::uint64_t failures_ = 0;
  std::uint64_t outages_ = 0;
  bool stale_ = false;
};

const char* to_string(Verdict verdict);

}  // namespace vipd::k8s
