// The simulated L2 segment: per-link delay plus jitter, loss, partitions, and per-link filters of
// VRRP multicast (a switch dropping the group MAC, or a firewall dropping the group IP). Each
// directed link is FIFO, as a switch port queue is: jitter varies the delay but never reorders two
// packets on one link.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "rng.h"
#include "world.h"

namespace vipd::sim {

// What a filter between two machines drops. Both leave ARP, neighbour discovery and IP unicast
// alone; only VRRP group traffic is hit, as in issue 11's lab.
enum class MulticastBlock : std::uint8_t {
  None,
  L2,  // a switch drops frames to the VRRP group MAC (01:00:5e:00:00:12, 33:33:00:00:00:12)
  Ip,  // a firewall drops IP destination 224.0.0.18 / ff02::12, whatever the frame's MAC
};
std::string_view to_string(MulticastBlock block);

// How a frame is addressed, for the multicast filters.
enum class FrameKind : std::uint8_t {
  Group,       // IP to the VRRP group, frame to the group MAC
  GroupToMac,  // IP to the VRRP group, frame to one machine's MAC (a split-brain contact)
  Unicast,     // IP unicast (to a peer's address, or to a VIP at the rival's MAC)
  Neighbour,   // ARP / neighbour discovery: broadcast or solicited-node, never filtered
};

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

  // Every link to and from each node in `nodes` (all nodes: the whole segment) filters `block`.
  void block_multicast(const std::vector<int>& nodes, MulticastBlock block);
  void unblock_multicast();
  bool multicast_blocked() const { return blocked_links_ > 0; }
  MulticastBlock block(int from, int to) const { return block_[from][to]; }
  // Whether a frame of `kind` from `from` gets past the filters towards `to`.
  bool passes(int from, int to, FrameKind kind) const;

  // When a packet sent now from `from` reaches `to`; nullopt when partitioned or lost. Both are
  // decided at send time, so once the segment is whole and loss-free every later packet arrives.
  std::optional<Time> route(int from, int to, Time now, Rng& rng);

 private:
  const World& world_;
  std::vector<int> group_;
  double loss_ = 0.0;
  Time jitter_{0};
  std::vector<std::vector<Time>> last_arrival_;
  std::vector<std::vector<MulticastBlock>> block_;
  int blocked_links_ = 0;
};

}  // namespace vipd::sim
