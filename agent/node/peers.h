// The other nodes this node sends adverts to by unicast and accepts unicast adverts from:
// configured by address, resolved from configured DNS names, or learned while healing a split
// brain (a rival's unicast advert). Learned peers are forgotten after a silence; the others stay.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "vipd/core/ip_address.h"
#include "vipd/core/timing.h"

namespace vipd::node {

enum class PeerSource : std::uint8_t { Configured, Dns, Learned };
std::string_view to_string(PeerSource source);  // "configured", "dns", "learned"

struct Peer {
  core::IpAddress address;
  PeerSource source = PeerSource::Configured;
  core::Time last_heard{0};  // 0: never
};

class PeerTable {
 public:
  void set_configured(std::span<const core::IpAddress> addresses);
  // Replaces the DNS-resolved peers; returns whether the set changed.
  bool set_resolved(std::span<const core::IpAddress> addresses);
  // A unicast advert from `address`: a new learned peer unless it is known. True when new.
  bool learn(const core::IpAddress& address, core::Time now);
  void heard(const core::IpAddress& address, core::Time now);
  // Drops learned peers silent for longer than `timeout`; returns them.
  std::vector<core::IpAddress> expire(core::Time now, core::Time timeout);

  const Peer* find(const core::IpAddress& address) const;
  const std::vector<Peer>& peers() const { return peers_; }
  bool empty() const { return peers_.empty(); }

 private:
  void replace(PeerSource source, std::span<const core::IpAddress> addresses);
  Peer* find_mutable(const core::IpAddress& address);

  std::vector<Peer> peers_;
};

}  // namespace vipd::node
