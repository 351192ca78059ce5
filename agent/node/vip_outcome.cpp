// The outcome of AddVips: a new master announces its VIPs (gratuitous ARP / unsolicited NA) only
// once the shell has put them on the interface. Announcing an address the host refused would
// draw the segment's traffic to a node that cannot answer it (the refusal itself: Node::on(const
// VipAddFailed&), which puts the instance in FAULT).
#include "node/node.h"

namespace vipd::node {

void Node::request_vips(std::size_t index) {
  instances_[index].vips_unconfirmed = true;
  out_.push_back(AddVips{index});
}

void Node::announce_new_master(std::size_t index) {
  InstanceState& instance = instances_[index];
  if (instance.vips_unconfirmed) {
    instance.announce_when_added = true;
    return;
  }
  announce(index, Burst::BecameMaster);
}

void Node::on(const VipsAdded& added) {
  if (added.instance >= instances_.size()) return;
  InstanceState& instance = instances_[added.instance];
  const bool announce_now = instance.announce_when_added && instance.holds_vips;
  instance.vips_unconfirmed = false;
  instance.announce_when_added = false;
  if (announce_now) announce(added.instance, Burst::BecameMaster);
}

}  // namespace vipd::node
