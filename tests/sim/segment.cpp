#include "segment.h"

#include <algorithm>

namespace vipd::sim {

Segment::Segment(const World& world)
    : world_(world),
      group_(static_cast<std::size_t>(world.node_count()), 0),
      jitter_(world.jitter_cap),
      last_arrival_(static_cast<std::size_t>(world.node_count()),
                    std::vector<Time>(static_cast<std::size_t>(world.node_count()), Time{0})),
      block_(static_cast<std::size_t>(world.node_count()),
             std::vector<MulticastBlock>(static_cast<std::size_t>(world.node_count()),
                                         MulticastBlock::None)) {}

std::string_view to_string(MulticastBlock block) {
  switch (block) {
    case MulticastBlock::None:
      return "none";
    case MulticastBlock::L2:
      return "l2";
    case MulticastBlock::Ip:
      return "ip";
  }
  return "?";
}

void Segment::block_multicast(const std::vector<int>& nodes, MulticastBlock block) {
  for (const int n : nodes) {
    for (int other = 0; other < world_.node_count(); ++other) {
      if (other == n) continue;
      block_[n][other] = block;
      block_[other][n] = block;
    }
  }
  blocked_links_ = 0;
  for (const auto& row : block_) {
    blocked_links_ += static_cast<int>(std::count_if(
        row.begin(), row.end(), [](MulticastBlock b) { return b != MulticastBlock::None; }));
  }
}

void Segment::unblock_multicast() {
  for (auto& row : block_) std::fill(row.begin(), row.end(), MulticastBlock::None);
  blocked_links_ = 0;
}

bool Segment::passes(int from, int to, FrameKind kind) const {
  switch (block_[from][to]) {
    case MulticastBlock::None:
      return true;
    case MulticastBlock::L2:
      return kind != FrameKind::Group;
    case MulticastBlock::Ip:
      return kind != FrameKind::Group && kind != FrameKind::GroupToMac;
  }
  return true;
}

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
