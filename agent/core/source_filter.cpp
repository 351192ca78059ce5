#include "vipd/core/source_filter.h"

#include <algorithm>

namespace vipd::core {

const AcceptedSource* SourceFilter::find(const IpAddress& source) const {
  const auto it = std::find_if(peers_.begin(), peers_.end(),
                               [&](const AcceptedSource& peer) { return peer.address == source; });
  return it == peers_.end() ? nullptr : &*it;
}

bool SourceFilter::ttl_exempt(const IpAddress& source) const {
  const AcceptedSource* peer = find(source);
  return peer && peer->ttl_exempt;
}

DecodeError SourceFilter::check(const PacketMeta& meta, std::uint8_t vrid, Time now) const {
  const bool to_group = meta.destination == vrrp_group(meta.destination.family());
  if (to_group && !restricted_) return {};
  if (find(meta.source)) return {};
  if (to_group) return DecodeError::NotPeer;
  if (now < windows_[vrid]) return {};
  const bool to_held_vip = std::any_of(held_.begin(), held_.end(), [&](const HeldVip& vip) {
    return vip.address == meta.destination && vip.vrid == vrid;
  });
  return to_held_vip ? DecodeError{} : DecodeError::NotPeer;
}

}  // namespace vipd::core
