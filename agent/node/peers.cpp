#include "node/peers.h"

#include <algorithm>

namespace vipd::node {

std::string_view to_string(PeerSource source) {
  switch (source) {
    case PeerSource::Configured:
      return "configured";
    case PeerSource::Dns:
      return "dns";
    case PeerSource::Learned:
      return "learned";
  }
  return "?";
}

void PeerTable::replace(PeerSource source, std::span<const core::IpAddress> addresses) {
  std::erase_if(peers_, [&](const Peer& peer) { return peer.source == source; });
  for (const core::IpAddress& address : addresses) {
    // A configured or resolved address that was learned keeps its history but not its expiry.
    const auto it = std::find_if(peers_.begin(), peers_.end(),
                                 [&](const Peer& peer) { return peer.address == address; });
    if (it == peers_.end()) {
      peers_.push_back(Peer{address, source, core::Time{0}});
    } else if (it->source == PeerSource::Learned) {
      it->source = source;
    }
  }
}

void PeerTable::set_configured(std::span<const core::IpAddress> addresses) {
  replace(PeerSource::Configured, addresses);
}

bool PeerTable::set_resolved(std::span<const core::IpAddress> addresses) {
  std::vector<core::IpAddress> before;
  for (const Peer& peer : peers_) {
    if (peer.source == PeerSource::Dns) before.push_back(peer.address);
  }
  replace(PeerSource::Dns, addresses);
  std::vector<core::IpAddress> after;
  for (const Peer& peer : peers_) {
    if (peer.source == PeerSource::Dns) after.push_back(peer.address);
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  return before != after;
}

// Adverts may be heard out of time order (the XDP path feeds each VRID's coalesced record in turn,
// and one VRID's record can be older than another's): the newest one counts.
bool PeerTable::learn(const core::IpAddress& address, core::Time now) {
  if (Peer* known = find_mutable(address)) {
    known->last_heard = std::max(known->last_heard, now);
    return false;
  }
  peers_.push_back(Peer{address, PeerSource::Learned, now});
  return true;
}

void PeerTable::heard(const core::IpAddress& address, core::Time now) {
  if (Peer* known = find_mutable(address)) known->last_heard = std::max(known->last_heard, now);
}

std::vector<core::IpAddress> PeerTable::expire(core::Time now, core::Time timeout) {
  std::vector<core::IpAddress> gone;
  std::erase_if(peers_, [&](const Peer& peer) {
    const bool silent = peer.source == PeerSource::Learned && now - peer.last_heard > timeout;
    if (silent) gone.push_back(peer.address);
    return silent;
  });
  return gone;
}

const Peer* PeerTable::find(const core::IpAddress& address) const {
  const auto it = std::find_if(peers_.begin(), peers_.end(),
                               [&](const Peer& peer) { return peer.address == address; });
  return it == peers_.end() ? nullptr : &*it;
}

Peer* PeerTable::find_mutable(const core::IpAddress& address) {
  const auto it = std::find_if(peers_.begin(), peers_.end(),
                               [&](const Peer& peer) { return peer.address == address; });
  return it == peers_.end() ? nullptr : &*it;
}

}  // namespace vipd::node
