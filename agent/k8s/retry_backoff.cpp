#include "k8s/retry_backoff.h"

#include <algorithm>

namespace vipd::k8s {

RetryBackoff::RetryBackoff(core::Time first, core::Time ceiling, std::uint64_t seed)
    : first_(first),
      ceiling_(std::max(first, ceiling)),
      base_(first),
      random_(static_cast<std::minstd_rand::result_type>(seed % 2147483646 + 1)) {}

core::Time RetryBackoff::next() {
  const core::Time base = base_;
  base_ = std::min(base_ * 2, ceiling_);
  std::uniform_int_distribution<std::int64_t> spread(base.count() * 8 / 10, base.count() * 12 / 10);
  return core::Time(spread(random_));
}

void RetryBackoff::reset() {
  base_ = first_;
}

}  // namespace vipd::k8s
