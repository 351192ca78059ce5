// The simulated L2 segment: per-link delay plus jitter, loss, partitions. Each directed link is
// FIFO, as a switch port queue is: jitter varies the delay but never reorders two packets on one
// link.
#pragma once

#include <optional>
#include <vector>

#include "rng.h"
#include "world.h"

namespace vipd::sim {

class Segment {
 public:
  explicit Segment(const World& world);

  // group_of_node[i] is node i's side; nodes on different sides hear nothing from each other.
  void partition(std::vector<int> group_of_node);
  void heal();
  void set_loss(double probability) { loss_ = probability; }
  void set_jitter(Time jitter) { jitter_ = jitter; }

  bool connected(int a, int b) const { return group_[a] == group_[b]; }
  bool fully_connected() const;
  bool lossless() const { return loss_ == 0.0; }

  // When a packet sent now from `from` reaches `to`; nullopt when partitioned or lost. Both are
  // decided at send time, so once the segment is whole and loss-free every later packet arrives.
  std::optional<Time> route(int from, int to, Time now, Rng& rng);

 private:
  const World& world_;
  std::vector<int> group_;
  double loss_ = 0.0;
  Time jitter_{0};
  std::vector<std::vector<Time>> last_arrival_;
};

}  // namespace vipd::sim
