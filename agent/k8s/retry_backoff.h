// Delays between retries of a failing Kubernetes API request: doubling from a first delay up to a
// ceiling, each spread by ±20 % so that nodes which lost the API together do not all come back at
// the same instant.
#pragma once

#include <cstdint>
#include <random>

#include "vipd/core/timing.h"

namespace vipd::k8s {

class RetryBackoff {
 public:
  RetryBackoff(core::Time first, core::Time ceiling, std::uint64_t seed);
  // The delay before the next attempt; each call doubles the base delay up to the ceiling.
  core::Time next();
  // After a success: the next failure starts from the first delay again.
  void reset();

 private:
  core::Time first_;
  core::Time ceiling_;
  core::Time base_;
  std::minstd_rand random_;
};

}  // namespace vipd::k8s
