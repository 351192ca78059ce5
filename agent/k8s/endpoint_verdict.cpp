#include "k8s/endpoint_verdict.h"

namespace vipd::k8s {

EndpointVerdict::Answered EndpointVerdict::answered(int local_ready, core::Time now) {
  Answered result;
  if (outage_since_) {
    result.outage_ended = Outage{now - *outage_since_, failures_, stale_};
    outage_since_.reset();
    failures_ = 0;
    stale_ = false;
  }
  const Verdict next = local_ready > 0 ? Verdict::Healthy : Verdict::Failed;
  if (next != verdict_) {
    verdict_ = next;
    result.changed = next;
  }
  return result;
}

EndpointVerdict::Failure EndpointVerdict::failed(core::Time now) {
  Failure result;
  ++failures_;
  if (!outage_since_) {
    outage_since_ = now;
    ++outages_;
    result.outage_started = true;
  }
  // Nothing known yet (the first request since start failed): there is no state to keep, and no
  // evidence of a local endpoint. Other nodes keep theirs, so this one simply stays out.
  if (verdict_ == Verdict::Unknown) {
    verdict_ = Verdict::Failed;
    result.changed = Verdict::Failed;
  }
  return result;
}

core::Time EndpointVerdict::stale_at() const {
  if (!outage_since_ || stale_) return core::kNever;
  return *outage_since_ + grace_;
}

bool EndpointVerdict::check_stale(core::Time now) {
  if (!outage_since_ || stale_ || now < *outage_since_ + grace_) return false;
  stale_ = true;
  return true;
}

core::Time EndpointVerdict::outage_for(core::Time now) const {
  return outage_since_ ? now - *outage_since_ : core::Time{0};
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::Healthy:
      return "healthy";
    case Verdict::Failed:
      return "failed";
    case Verdict::Unknown:
      break;
  }
  return "unknown";
}

}  // namespace vipd::k8s
