// Split brain: a second owner of a VIP we hold as MASTER (docs/SPLIT_BRAIN.md). Evidence comes
// from ARP / neighbour adverts for our VIPs from another MAC (the kernel's watch, the raw path's
// listener, the answers to our RFC 5227 probes). Evidence never makes us yield: it only makes us
// contact the rival with our advert, by unicast, and accept its unicast answer for a while. The
// normal VRRP election over that unicast path decides who keeps the VIP; the peers learned on it
// keep exchanging adverts after multicast failed, so the loser stays BACKUP instead of flapping.
#include <algorithm>

#include "node/node.h"

namespace vipd::node {
namespace {

// One contact (an advert to the rival's MAC) per rival and second, and a few per instance and
// second: a probe may be answered by several rivals, but evidence can be forged cheaply (a flood
// of spoofed ARP replies from random MACs) and must never cost more than that.
constexpr core::Time kContactInterval = std::chrono::seconds(1);
constexpr int kContactsPerInterval = 4;
constexpr std::size_t kMaxRivalContacts = 8;
// Evidence this long after the last starts a new episode (a new log line, a new count).
constexpr core::Time kEpisodeGap = std::chrono::seconds(30);
// Contacts without a VRRP answer before the rival counts as a host that does not speak VRRP.
constexpr int kContactsBeforeForeign = 3;
// peers_heard is for status: a handful of entries per instance at most.
constexpr std::size_t kMaxPeersHeard = 16;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// "10 s", "2.5 s": whole milliseconds, no trailing zeros.
std::string seconds_text(core::Time t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  std::string text = std::to_string(ms / 1000);
  if (const auto fraction = ms % 1000; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 3 - digits.size(), '0');
    digits.erase(digits.find_last_not_of('0') + 1);
    text += '.';
    text += digits;
  }
  text += " s";
  return text;
}

}  // namespace

std::string_view to_string(ConflictKind kind) {
  switch (kind) {
    case ConflictKind::Unknown:
      return "unknown";
    case ConflictKind::Vrrp:
      return "vrrp";
    case ConflictKind::Foreign:
      return "foreign";
  }
  return "?";
}

void Node::on(const VipClaimed& claimed) {
  const auto index = find(claimed.vrid);
  if (!index) return;
  InstanceState& instance = instances_[*index];
  // Only a holder can have a rival; a backup hearing the master's gratuitous ARP is normal.
  if (instance.core.state() != core::State::Master || !instance.holds_vips) return;
  const bool new_episode = !instance.conflict || now_ - instance.conflict->at > kEpisodeGap;
  if (new_episode) {
    instance.conflict =
        Conflict{now_, now_, claimed.vip, claimed.mac, std::nullopt, ConflictKind::Unknown};
    instance.contacts.clear();
    log(Level::Warn, "split_brain", *index,
        "(" + instance.plan.name + ") VIP " + claimed.vip.to_string() + " is also held by " +
            core::to_string(claimed.mac) + " on " + plan_.interface +
            ": a second MASTER? contacting it by unicast",
        {{"vip", claimed.vip.to_string()}, {"mac", core::to_string(claimed.mac)}});
  } else {
    instance.conflict->at = now_;
    instance.conflict->vip = claimed.vip;
    instance.conflict->mac = claimed.mac;
  }
  // The rival's answer must get through our source filter before we know its address.
  const core::Time window = plan_.split_brain.unicast_window;
  if (instance.window_until < now_ + window / 2) {
    instance.window_until = now_ + window;
    out_.push_back(OpenUnicastWindow{instance.plan.core.vrid, instance.window_until});
  }
  const RivalContact* contact = contact_rival(*index, claimed);
  defend(*index, claimed);
  Conflict& conflict = *instance.conflict;
  if (contact && contact->unanswered >= kContactsBeforeForeign &&
      conflict.kind != ConflictKind::Foreign) {
    conflict.kind = ConflictKind::Foreign;
    ++instance.conflicts_foreign;
    log(Level::Warn, "split_brain", *index,
        "(" + instance.plan.name + ") " + core::to_string(claimed.mac) + " holds VIP " +
            claimed.vip.to_string() + " but answers no VRRP advert: configured by hand? " +
            "defending it (one announcement per " +
            seconds_text(plan_.split_brain.defend_interval) + " at most); remove it there",
        {{"vip", claimed.vip.to_string()},
         {"mac", core::to_string(claimed.mac)},
         {"kind", "foreign"}});
  }
}

// Our advert, as one frame to the rival's MAC: IP-addressed to the VIP (its kernel delivers it,
// ours would keep it local; its source tells the rival our address), and once more to the VRRP
// group (a keepalived rival accepts only that, and a switch that drops multicast MACs still
// passes a frame sent to its MAC).
RivalContact* Node::contact_rival(std::size_t index, const VipClaimed& claimed) {
  InstanceState& instance = instances_[index];
  auto& contacts = instance.contacts;
  auto rival = std::find_if(contacts.begin(), contacts.end(),
                            [&](const RivalContact& c) { return c.mac == claimed.mac; });
  if (rival != contacts.end() && now_ - rival->last < kContactInterval) return &*rival;
  if (now_ - instance.contact_window >= kContactInterval) {
    instance.contact_window = now_;
    instance.contacts_in_window = 0;
  }
  if (instance.contacts_in_window >= kContactsPerInterval) return nullptr;
  ++instance.contacts_in_window;
  if (rival == contacts.end()) {
    if (contacts.size() >= kMaxRivalContacts) {
      // The least recently contacted makes room: forged MACs must not pin the table.
      contacts.erase(std::min_element(
          contacts.begin(), contacts.end(),
          [](const RivalContact& a, const RivalContact& b) { return a.last < b.last; }));
    }
    contacts.push_back(RivalContact{claimed.mac, now_, 0});
    rival = contacts.end() - 1;
  }
  rival->last = now_;
  ++rival->unanswered;
  const std::uint8_t priority = instance.core.priority();
  out_.push_back(SendAdvert{index, priority, claimed.vip, claimed.mac});
  out_.push_back(SendAdvert{index, priority, core::vrrp_group(claimed.vip.family()), claimed.mac});
  instance.adverts_sent += 2;
  return &*rival;
}

// RFC 5227 2.4 (c): one announcement, at most once per DEFEND_INTERVAL: clients that learned the
// rival's MAC learn ours again, whatever the rival is.
void Node::defend(std::size_t index, const VipClaimed& claimed) {
  InstanceState& instance = instances_[index];
  if (now_ - instance.defended < plan_.split_brain.defend_interval) return;
  instance.defended = now_;
  log(Level::Info, "defend", index,
      "(" + instance.plan.name + ") defending VIP " + claimed.vip.to_string() + " against " +
          core::to_string(claimed.mac) + ": one announcement (RFC 5227)");
  out_.push_back(Announce{index, 1});
}

void Node::on(const PeersResolved& resolved) {
  if (!peers_.set_resolved(resolved.addresses)) return;
  std::string list;
  for (const core::IpAddress& address : resolved.addresses) {
    if (!list.empty()) list += ", ";
    list += address.to_string();
  }
  log(Level::Info, "peers", kNoInstance,
      "Unicast peers from DNS now: " + (list.empty() ? std::string("none") : list));
  out_.push_back(PeersChanged{});
}

void Node::note_heard(std::size_t index, const HeardAdvert& heard) {
  InstanceState& instance = instances_[index];
  const core::IpAddress& source = heard.advert.source;
  if (source == instance.plan.core.primary_address) return;
  last_heard_other_ = std::max(last_heard_other_, heard.at);
  auto known = std::find_if(instance.peers_heard.begin(), instance.peers_heard.end(),
                            [&](const PeerHeard& peer) { return peer.address == source; });
  if (known != instance.peers_heard.end()) {
    known->last = std::max(known->last, heard.at);
  } else if (instance.peers_heard.size() < kMaxPeersHeard) {
    instance.peers_heard.push_back(PeerHeard{source, heard.at});
  }
  if (!heard.unicast) {
    peers_.heard(source, heard.at);
    return;
  }
  if (peers_.learn(source, heard.at)) {
    log(Level::Info, "peers", index,
        "(" + instance.plan.name + ") learned peer " + source.to_string() +
            ": its adverts reach us by unicast, ours go to it too",
        {{"peer", source.to_string()}});
    out_.push_back(PeersChanged{});
  }
  Conflict* conflict = instance.conflict ? &*instance.conflict : nullptr;
  if (!conflict || now_ - conflict->at >= kEpisodeGap) return;
  // The first VRRP answer of the episode: the rivals contacted so far speak VRRP. One that keeps
  // claiming the VIP after the election without ever answering is foreign after all.
  if (conflict->kind == ConflictKind::Unknown) {
    for (RivalContact& contact : instance.contacts) contact.unanswered = 0;
    conflict->kind = ConflictKind::Vrrp;
    conflict->rival = source;
    ++instance.conflicts_vrrp;
    log(Level::Warn, "split_brain", index,
        "(" + instance.plan.name + ") split brain with " + source.to_string() + " (" +
            core::to_string(conflict->mac) + "): both held VIP " + conflict->vip.to_string() +
            "; the election now runs over unicast",
        {{"vip", conflict->vip.to_string()},
         {"peer", source.to_string()},
         {"mac", core::to_string(conflict->mac)},
         {"kind", "vrrp"}});
  }
}

void Node::on_conflict_probe(std::size_t index) {
  InstanceState& instance = instances_[index];
  const core::Time interval = plan_.split_brain.probe_interval;
  if (instance.core.state() != core::State::Master || interval <= core::Time{0}) return;
  if (instance.holds_vips) out_.push_back(ProbeVips{index});
  set_timer(TimerKind::ConflictProbe, index, now_ + jittered(interval));
}

// A backup that hears its master only over a learned unicast path tells it that it still listens:
// a priority-0 advert, to the master only, which RFC 5798 6.4.3 answers with an advert and nothing
// else. Without it the master would forget the silent backup, stop sending to it, and the backup
// would take over after Master_Down_Interval: a flap every learned_peer_timeout.
void Node::on_presence(std::size_t index) {
  InstanceState& instance = instances_[index];
  if (instance.core.state() != core::State::Backup) return;
  // Who our master is depends on the adverts heard, and the kernel may have coalesced the ones
  // since our last timer (a backup that just started hears its learned master only as a record):
  // without them the XDP path would skip the presence advert the raw-socket path sends (found by
  // vipd-sim --receive-path both, seed 33). Only then: a catch-up at every presence tick would
  // feed the record far more often than the Master_Down timer does.
  if (!learned_master(instance) && has_learned_peer()) {
    catch_up(index);
    if (instance.core.state() != core::State::Backup) return;
  }
  if (learned_master(instance)) {
    out_.push_back(
        SendAdvert{index, core::kStopPriority, *instance.core.master_address(), std::nullopt});
    ++instance.adverts_sent;
  }
  set_timer(TimerKind::Presence, index, now_ + plan_.split_brain.learned_peer_timeout / 4);
}

// A priority-0 advert sent to us alone by a node that is not our master is that node's presence
// advert, meant for the master it still follows: we were that master and have yielded since, and
// it has not noticed yet. RFC 5798 makes a backup take over Skew_Time after a priority-0 advert;
// taking over on this one would make us claim the VIP again and yield again at every presence
// advert, for as long as the stale follower keeps sending them (found by vipd-sim's split-brain
// scenario). It still counts as hearing that node; the follower times out and finds the real
// master. A master's own priority 0 (it is stopping) and priority 0 to the group are unaffected.
bool Node::presence_for_another_master(std::size_t index, const HeardAdvert& heard) const {
  const core::Instance& core = instances_[index].core;
  if (!heard.unicast || heard.advert.priority != core::kStopPriority ||
      core.state() != core::State::Backup) {
    return false;
  }
  const auto master = core.master_address();
  return !master || *master != heard.advert.source;
}

void Node::on_peer_expiry() {
  const core::Time timeout = plan_.split_brain.learned_peer_timeout;
  // A backup hears its master's adverts coalesced in the kernel's record: they count as heard.
  for (std::size_t i = 0; i < instances_.size(); ++i) catch_up(i);
  const std::vector<core::IpAddress> gone = peers_.expire(now_, timeout);
  for (const core::IpAddress& address : gone) {
    log(Level::Info, "peers", kNoInstance,
        "Forgot learned peer " + address.to_string() + ": silent for more than " +
            seconds_text(timeout),
        {{"peer", address.to_string()}});
  }
  if (!gone.empty()) out_.push_back(PeersChanged{});
  set_timer(TimerKind::PeerExpiry, 0, now_ + timeout / 2);
}

std::size_t Node::peers_heard_recently(std::size_t index) const {
  const InstanceState& instance = instances_[index];
  const core::Time window = 3 * instance.core.master_down_interval();
  return static_cast<std::size_t>(
      std::count_if(instance.peers_heard.begin(), instance.peers_heard.end(),
                    [&](const PeerHeard& peer) { return now_ - peer.last <= window; }));
}

// A MASTER the priority scheme did not mean to be master, hearing no other node at all although
// peers are expected, is most likely cut off from them (multicast blocked): say so once.
void Node::check_alone(std::size_t index) {
  InstanceState& instance = instances_[index];
  const bool candidate = plan_.split_brain.expected_peers && !instance.plan.master_eligible &&
                         instance.core.state() == core::State::Master;
  const core::Time since = std::max(last_heard_other_, instance.state_since);
  const bool alone = candidate && now_ - since > 3 * instance.core.master_down_interval();
  if (alone == instance.alone) return;
  instance.alone = alone;
  if (!alone) {
    if (candidate) {
      log(Level::Info, "alone", index, "(" + instance.plan.name + ") hears other nodes again");
    }
    return;
  }
  std::string peers;
  for (const Peer& peer : peers_.peers()) {
    if (!peers.empty()) peers += ", ";
    peers += peer.address.to_string() + " (" + std::string(to_string(peer.source)) + ")";
  }
  log(Level::Warn, "alone", index,
      "(" + instance.plan.name + ") MASTER has heard no other node for " +
          seconds_text(now_ - since) +
          " although peers are expected: multicast may be blocked between the nodes; unicast "
          "peers: " +
          (peers.empty() ? std::string("none") : peers) + " (docs/SPLIT_BRAIN.md)");
}

void Node::split_brain_on_state_change(std::size_t index, const core::StateChange& change) {
  InstanceState& instance = instances_[index];
  const core::Time probe = plan_.split_brain.probe_interval;
  if (change.to == core::State::Master && probe > core::Time{0}) {
    set_timer(TimerKind::ConflictProbe, index, now_ + jittered(probe));
  } else if (change.from == core::State::Master) {
    set_timer(TimerKind::ConflictProbe, index, core::kNever);
    instance.alone = false;
  }
  if (change.to == core::State::Backup) {
    // At once: the master learned over unicast may not know us yet, and until it does its
    // adverts go only to the (blocked) group while our Master_Down_Interval runs.
    on_presence(index);
  } else if (change.from == core::State::Backup) {
    set_timer(TimerKind::Presence, index, core::kNever);
  }
}

// Uniform in [0.75, 1.25] of `interval`.
core::Time Node::jittered(core::Time interval) {
  const std::uint64_t draw = splitmix64(jitter_state_) % 1001;  // 0..1000
  return interval * 3 / 4 + interval / 2 * static_cast<std::int64_t>(draw) / 1000;
}

bool Node::has_learned_peer() const {
  return std::any_of(peers_.peers().begin(), peers_.peers().end(),
                     [](const Peer& peer) { return peer.source == PeerSource::Learned; });
}

bool Node::learned_master(const InstanceState& instance) const {
  const auto master = instance.core.master_address();
  if (!master) return false;
  const Peer* peer = peers_.find(*master);
  return peer && peer->source == PeerSource::Learned;
}

}  // namespace vipd::node
