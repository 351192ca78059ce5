#include "segment.h"

#include <algorithm>

namespace vipd::sim {

Segment::Segment(const World& world)
    : world_(world),
      group_(static_cast<std::size_t>(world.node_count()), 0),
      jitter_(world.jitter_cap),
      last_arrival_(static_cast<std::size_t>(world.node_count()),
                    std::vector<Time>(static_cast<std::size_t>(world.node_count()), Time{0})) {}

void Segment::partition(std::vector<int> group_of_node) {
  group_ = std::move(group_of_node);
}

void Segment::heal() {
  std::fill(group_.begin(), group_.end(), 0);
}

bool Segment::fully_connected() const {
  return std::all_of(group_.begin(), group_.end(), [&](int g) { return g == group_.front(); });
}

std::optional<Time> Segment::route(int from, int to, Time now, Rng& rng) {
  if (!connected(from, to)) return std::nullopt;
  if (loss_ > 0.0 && rng.chance(loss_)) return std::nullopt;
  const Time jitter = jitter_ > Time{0} ? rng.time_between(Time{0}, jitter_) : Time{0};
  // FIFO: never before the previous packet on this link. That previous packet left no later than
  // now and arrived within the maximum delay of leaving, so this stays within it too.
  const Time arrival =
      std::max(now + world_.link_delay[from][to] + jitter, last_arrival_[from][to]);
  last_arrival_[from][to] = arrival;
  return arrival;
}

}  // namespace vipd::sim
