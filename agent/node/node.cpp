#include "node/node.h"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "node/wording.h"
#include "vipd/core/overloaded.h"

namespace vipd::node {
namespace {

std::uint8_t bit(core::FaultReason reason) {
  return static_cast<std::uint8_t>(reason);
}

}  // namespace

Node::Node(config::Plan plan, ReceivePath& receive, Level verbosity)
    : plan_(std::move(plan)), receive_(receive), verbosity_(verbosity) {
  peers_.set_configured(plan_.unicast_peers);
  // Probe jitter differs between nodes (so they do not probe in step) yet replays exactly.
  jitter_state_ = 0x9E3779B97F4A7C15ull;
  for (const std::uint8_t byte : plan_.source.bytes()) jitter_state_ = jitter_state_ * 131 + byte;
  instances_.reserve(plan_.instances.size());
  for (const config::InstancePlan& instance : plan_.instances) {
    InstanceState& state = instances_.emplace_back(instance, core::Instance(instance.core));
    state.base_priority = instance.core.priority;
    by_vrid_[instance.core.vrid] = static_cast<int>(instances_.size());
  }
}

std::optional<std::size_t> Node::find(std::uint8_t vrid) const {
  const int slot = by_vrid_[vrid];
  if (slot == 0) return std::nullopt;
  return static_cast<std::size_t>(slot - 1);
}

const std::vector<Command>& Node::handle(core::Time now, const Input& input) {
  out_.clear();
  now_ = now;
  std::visit([this](const auto& value) { on(value); }, input);
  return out_;
}

// ---------------------------------------------------------------------------------------------
// Inputs

void Node::on(const Start&) {
  start_requested_ = true;
  // Like keepalived, instances enter service once the check has answered (a failing check with
  // no weight starts them in FAULT).
  if (plan_.health.kind != config::HealthPlan::Kind::None && !check_answered_) return;
  start_instances();
}

void Node::on(const Shutdown&) {
  start_requested_ = false;
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    catch_up(i);
    execute(i, instances_[i].core.stop(now_));
  }
}

void Node::on(const TimerExpired& expired) {
  const std::size_t i = expired.timer.instance;
  if (i >= instances_.size()) return;
  switch (expired.timer.kind) {
    case TimerKind::Protocol:
      // Adverts waiting in the ring buffer or coalesced in the kernel count before the timer does.
      // A master hears every advert as an event (the kernel's deliver-all switch); only a
      // backup's down timer depends on adverts the kernel coalesced.
      if (instances_[i].core.state() == core::State::Backup) {
        catch_up(i);
      } else {
        drain();
      }
      execute(i, instances_[i].core.on_timer(now_));
      check_alone(i);
      return;
    case TimerKind::ConflictProbe:
      return on_conflict_probe(i);
    case TimerKind::Presence:
      return on_presence(i);
    case TimerKind::PeerExpiry:
      return on_peer_expiry();
    case TimerKind::GarpRepeat:
      return announce(i, Burst::Repeat);
    case TimerKind::GarpRefresh:
      return announce(i, Burst::Refresh);
    case TimerKind::PreemptWindowEnd:
      // Adverts coalesced inside the window were accepted there whatever their priority; the ones
      // after it may not be. The record must reach the core before the first of those replaces it.
      if (instances_[i].core.state() == core::State::Backup) catch_up(i);
      return;
  }
}

void Node::on(const AdvertsPending&) {
  drain();
}

void Node::on(const FaultChanged& fault) {
  set_fault(fault.reason, fault.raised, fault.instance);
}

void Node::on(const CheckResult& result) {
  check_answered_ = true;
  const int weight = plan_.health.weight;
  if (weight == 0) {
    set_fault(core::FaultReason::CheckFailed, !result.passed, std::nullopt);
  } else {
    int adjustment = 0;
    if (result.passed && weight > 0) adjustment = weight;
    if (!result.passed && weight < 0) adjustment = weight;
    check_adjustment_ = adjustment;
    for (std::size_t i = 0; i < instances_.size(); ++i) update_priority(i);
  }
  if (start_requested_ && !started_) start_instances();
}

void Node::on(const VipMissing& missing) {
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    InstanceState& instance = instances_[i];
    if (!instance.holds_vips) continue;
    const auto& vips = instance.plan.vips;
    if (std::none_of(vips.begin(), vips.end(),
                     [&](const config::Vip& vip) { return vip.address == missing.address; })) {
      continue;
    }
    log(Level::Warn, "vip_missing", i,
        "(" + instance.plan.name + ") VIP " + missing.address.to_string() + " was removed from " +
            plan_.interface + " while MASTER: re-adding it");
    request_vips(i);
  }
}

void Node::on(const VipAddFailed& failed) {
  if (failed.instance >= instances_.size()) return;
  const InstanceState& instance = instances_[failed.instance];
  log(Level::Error, "vip_add_failed", failed.instance,
      "(" + instance.plan.name + ") cannot add VIP: " + failed.error +
          "; the instance stays in FAULT (a MASTER without its address would draw traffic it "
          "cannot answer) until vipd is restarted");
  instances_[failed.instance].vips_unconfirmed = false;
  instances_[failed.instance].announce_when_added = false;
  set_fault(core::FaultReason::VipRejected, true, failed.instance);
}

void Node::on(const SetBasePriority& change) {
  if (change.instance >= instances_.size() || change.priority == 0) return;
  instances_[change.instance].base_priority = change.priority;
  update_priority(change.instance);
}

void Node::start_instances() {
  started_ = true;
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    if (instances_[i].retired) continue;
    instances_[i].state_since = now_;
    catch_up(i);
    execute(i, instances_[i].core.start(now_));
  }
  if (!instances_.empty()) {
    set_timer(TimerKind::PeerExpiry, 0, now_ + plan_.split_brain.learned_peer_timeout / 2);
  }
}

void Node::set_fault(core::FaultReason reason, bool raised, std::optional<std::size_t> only) {
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    if (only && *only != i) continue;
    if (((instances_[i].faults & bit(reason)) != 0) != raised) changed.push_back(i);
  }
  if (changed.empty()) return;
  const std::size_t named = only ? *only : kNoInstance;
  if (reason == core::FaultReason::InterfaceDown && !only) {
    log(Level::Info, "fault", named,
        "Netlink reports " + plan_.interface + (raised ? " down" : " up"));
  } else {
    const std::string who = only ? "(" + instances_[*only].plan.name + ") " : "instances ";
    log(Level::Info, "fault", named,
        std::string(core::to_string(reason)) + ": " + who + (raised ? "enter" : "may leave") +
            " FAULT");
  }
  for (const std::size_t i : changed) {
    InstanceState& instance = instances_[i];
    instance.faults = static_cast<std::uint8_t>(raised ? instance.faults | bit(reason)
                                                       : instance.faults & ~bit(reason));
    // Before start() the core only records the fault (no actions) and start() honours it.
    if (instance.core.state() != core::State::Initialize) catch_up(i);
    execute(i, raised ? instance.core.raise_fault(now_, reason)
                      : instance.core.clear_fault(now_, reason));
  }
}

void Node::update_priority(std::size_t index) {
  InstanceState& instance = instances_[index];
  if (instance.retired) return;
  const std::uint8_t next = core::effective_priority(instance.base_priority, check_adjustment_);
  if (next == instance.core.priority()) return;
  log(Level::Info, "priority_change", index,
      "(" + instance.plan.name + ") Changing effective priority from " +
          std::to_string(instance.core.priority()) + " to " + std::to_string(next),
      {{"from", std::to_string(instance.core.priority())}, {"to", std::to_string(next)}});
  catch_up(index);
  instance.core.set_priority(next);
  // Adverts the kernel coalesced were judged against the old priority: hear the next one anew.
  receive_.forget(instance.plan.core.vrid);
}

// ---------------------------------------------------------------------------------------------
// The receive path

void Node::drain() {
  receive_.drain([this](const Received& record) { on_received(record); });
}

void Node::catch_up(std::size_t index) {
  drain();
  InstanceState& instance = instances_[index];
  if (const auto latest = receive_.latest(instance.plan.core.vrid);
      latest && latest->at > instance.last_fed) {
    feed(*latest, true);
  }
}

void Node::on_received(const Received& record) {
  std::visit(core::Overloaded{
                 [&](const AdvertEvent& event) {
                   // Adverts coalesced into the record this one replaced may be newer than any
                   // the core was given: they count first, or a backup would time out early.
                   if (event.replaced) {
                     const auto index = find(event.replaced->vrid);
                     if (index && event.replaced->at > instances_[*index].last_fed) {
                       feed(*event.replaced, true);
                     }
                   }
                   feed(event.heard, false);
                 },
                 [&](const VipClaimed& claimed) { on(claimed); },
                 [&](const PortRefused& refused) {
                   out_.push_back(CheckNow{refused.port, refused.refusals});
                 },
             },
             record);
}

void Node::feed(const HeardAdvert& heard, bool from_record) {
  const auto index = find(heard.vrid);
  if (!index) return;  // another router's VRID on this segment: not ours to judge
  InstanceState& instance = instances_[*index];
  note_heard(*index, heard);
  instance.last_fed = std::max(instance.last_fed, heard.at);
  if (presence_for_another_master(*index, heard)) return;
  ++instance.adverts_heard;
  if (from_record) ++instance.records_fed;
  if (verbosity_ <= Level::Debug) {
    log(Level::Debug, "advert", *index,
        "(" + instance.plan.name + ") heard priority " + std::to_string(heard.advert.priority) +
            " from " + heard.advert.source.to_string() + (from_record ? " (kernel record)" : ""));
  }
  execute(*index, instance.core.on_advert(heard.at, heard.advert));
}

// ---------------------------------------------------------------------------------------------
// The core's actions

void Node::execute(std::size_t index, const core::ActionList& actions) {
  InstanceState& instance = instances_[index];
  for (const core::Action& action : actions) {
    std::visit(
        core::Overloaded{
            [&](const core::SendAdvert& send) { send_advert(index, send.priority); },
            [&](const core::AddVips&) {
              instance.holds_vips = true;
              request_vips(index);
            },
            [&](const core::RemoveVips&) {
              instance.holds_vips = false;
              instance.vips_unconfirmed = false;
              instance.announce_when_added = false;
              out_.push_back(RemoveVips{index});
            },
            [&](const core::Announce&) { announce_new_master(index); },
            [&](const core::StateChange& change) { on_state_change(index, change); },
            [&](const core::ArmTimer& arm) { set_timer(TimerKind::Protocol, index, arm.at); },
            [&](const core::Note& note) {
              log(Level::Info, "advert", index,
                  note_text(instance.plan.name, note, instance.core.priority()),
                  {{"peer", note.peer.to_string()}, {"priority", std::to_string(note.priority)}});
              if (note.kind == core::NoteKind::ForcingNewElection &&
                  lower_priority_episode(instance, note.peer)) {
                announce(index, Burst::LowerPriorityHeard);
              }
            },
        },
        action);
  }
}

// To the VRRP group (unless unicast only) and to every known peer: configured, resolved or learned
// while healing a split brain. A receiver that gets both copies takes them as one advert.
void Node::send_advert(std::size_t index, std::uint8_t priority) {
  InstanceState& instance = instances_[index];
  const core::IpAddress& own = instance.plan.core.primary_address;
  if (plan_.transport.multicast) {
    out_.push_back(SendAdvert{index, priority, core::vrrp_group(own.family()), std::nullopt});
    ++instance.adverts_sent;
  }
  for (const Peer& peer : peers_.peers()) {
    if (peer.address == own || peer.address.family() != own.family()) continue;
    out_.push_back(SendAdvert{index, priority, peer.address, std::nullopt});
    ++instance.adverts_sent;
  }
}

void Node::announce(std::size_t index, Burst burst) {
  const InstanceState& instance = instances_[index];
  const config::GarpPlan& garp = plan_.garp;
  if (instance.core.state() != core::State::Master || garp.repeat == 0) return;
  for (const config::Vip& vip : instance.plan.vips) {
    log(Level::Info, "announce", index,
        std::string("Sending ") +
            (vip.address.is_v4() ? "gratuitous ARP" : "unsolicited neighbour advert") + " on " +
            plan_.interface + " for " + vip.address.to_string());
  }
  out_.push_back(Announce{index, burst == Burst::Refresh ? garp.refresh_repeat : garp.repeat});
  if (burst == Burst::BecameMaster && garp.delay > core::Time{0}) {
    set_timer(TimerKind::GarpRepeat, index, now_ + garp.delay);
  }
  if ((burst == Burst::BecameMaster || burst == Burst::Refresh) && garp.refresh > core::Time{0}) {
    set_timer(TimerKind::GarpRefresh, index, now_ + garp.refresh);
  }
}

bool Node::lower_priority_episode(InstanceState& instance, const core::IpAddress& peer) {
  // A new peer, or one heard again after a silence (a partition healed), starts a new episode and
  // gets an announcement at once; a peer that keeps sending gets one per interval at most.
  const bool new_peer = peer != instance.lower_peer;
  const bool after_silence = now_ - instance.lower_heard > 2 * instance.plan.core.advert_interval;
  const bool due = now_ - instance.lower_announced >= kLowerPriorityAnnounceInterval;
  instance.lower_heard = now_;
  instance.lower_peer = peer;
  if (!new_peer && !after_silence && !due) return false;
  instance.lower_announced = now_;
  return true;
}

// Where the parting advert goes: to a VIP, which the winner now holds. A node accepts a unicast
// advert at a VIP it holds from anyone (a rival vipd's contact), but at its own address only from
// a known peer, and after a partition the loser is rarely one (found in the lab: the winner
// dropped the parting advert as "source not a peer" and the client kept the loser's MAC). Our VIPs
// are gone first (RemoveVips precedes the state change; adverts leave after the batch), so our
// kernel resolves the VIP on the link like any client and the holder answers. (A VIP outside the
// link's subnets is routed instead and dropped for its TTL, as the advert to the address was.)
// An instance without a VIP of the winner's family sends to the winner's address.
core::IpAddress Node::parting_destination(const InstanceState& instance,
                                          const core::IpAddress& winner) const {
  for (const config::Vip& vip : instance.plan.vips) {
    if (vip.address.family() == winner.family()) return vip.address;
  }
  return winner;
}

void Node::on_state_change(std::size_t index, const core::StateChange& change) {
  InstanceState& instance = instances_[index];
  ++instance.transitions;
  instance.state_since = now_;
  out_.push_back(StateChanged{index, change});
  log(Level::Info, "state_change", index, entering_state(instance.plan.name, change),
      {{"from", std::string(core::to_string(change.from))},
       {"to", std::string(core::to_string(change.to))},
       {"reason", std::string(core::to_string(change.reason))},
       {"priority", std::to_string(instance.core.priority())}});
  log(Level::Info, "state_reason", index,
      transition_reason(instance.plan.name, change, instance.core));
  if (change.from == core::State::Master && change.reason == core::StateReason::HigherPriority) {
    // A split brain just ended and clients may still have our MAC for the VIPs. One parting
    // advert at our (lower) priority makes the winner answer and re-announce them, even when its
    // advert reached us before ours reached it. Unicast to the winner only: a backup hearing it
    // would take us for a live master and wait a Master_Down_Interval longer if the winner died.
    if (const auto winner = instance.core.master_address()) {
      out_.push_back(SendAdvert{index, instance.core.priority(),
                                parting_destination(instance, *winner), std::nullopt});
      ++instance.adverts_sent;
    }
  }
  if (change.to == core::State::Master || change.from == core::State::Master) {
    receive_.set_master(instance.plan.core.vrid, change.to == core::State::Master);
  }
  // Adverts accepted during preempt_delay must count until the window closes: look again then.
  const bool window_opened = change.reason == core::StateReason::Startup ||
                             change.reason == core::StateReason::FaultCleared;
  const core::InstanceConfig& config = instance.plan.core;
  if (window_opened && config.preempt && config.preempt_delay > core::Time{0}) {
    set_timer(TimerKind::PreemptWindowEnd, index, now_ + config.preempt_delay);
  }
  if (change.to != core::State::Initialize) {
    out_.push_back(Notify{index, change.to, instance.core.priority()});
  }
  if (change.from == core::State::Master) {
    set_timer(TimerKind::GarpRepeat, index, core::kNever);
    set_timer(TimerKind::GarpRefresh, index, core::kNever);
  }
  split_brain_on_state_change(index, change);
}

void Node::set_timer(TimerKind kind, std::size_t index, core::Time at) {
  out_.push_back(SetTimer{TimerId{kind, index}, at});
}

void Node::log(Level level, std::string_view event, std::size_t index, std::string text,
               std::vector<LogField> fields) {
  if (level < verbosity_) return;
  out_.push_back(Log{level, event, index, std::move(text), std::move(fields)});
}

}  // namespace vipd::node
