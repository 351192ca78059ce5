// What the node tests share: a receive path the test controls, a one-instance plan, readers of the
// node's commands, and a fixture that feeds inputs and remembers the timers the node set.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "node/node.h"

namespace vipd::node::fixture {

using namespace std::chrono_literals;

inline const core::IpAddress kOurs = core::IpAddress::v4(0xC6120002);  // 198.18.0.2
inline const core::IpAddress kPeer = core::IpAddress::v4(0xC6120009);  // 198.18.0.9
inline const core::IpAddress kVip = core::IpAddress::v4(0xC6130001);   // 198.19.0.1
inline const core::IpAddress kGroup = core::vrrp_group(core::Family::V4);
inline constexpr std::uint8_t kVrid = 51;
inline constexpr core::Time kT0 = 10s;

// The receive path as a test controls it: records to drain, the kernel's coalesced record per VRID,
// and what the node asked of it.
class FakeReceivePath final : public ReceivePath {
 public:
  void drain(const std::function<void(const Received&)>& deliver) override {
    ++drains;
    while (!pending.empty()) {
      const Received record = pending.front();
      pending.pop_front();
      deliver(record);
    }
  }
  std::optional<HeardAdvert> latest(std::uint8_t vrid) override {
    const auto it = records.find(vrid);
    if (it == records.end()) return std::nullopt;
    return it->second;
  }
  void forget(std::uint8_t vrid) override {
    records.erase(vrid);
    forgotten.push_back(vrid);
  }
  void set_master(std::uint8_t vrid, bool master) override { deliver_all[vrid] = master; }

  void advert(core::Time at, const core::IpAddress& source, std::uint8_t priority) {
    pending.push_back(
        AdvertEvent{HeardAdvert{at, kVrid, core::RxAdvert{source, priority, 100}}, {}});
  }
  void record(core::Time at, const core::IpAddress& source, std::uint8_t priority) {
    records[kVrid] = HeardAdvert{at, kVrid, core::RxAdvert{source, priority, 100}};
  }

  std::deque<Received> pending;
  std::map<std::uint8_t, HeardAdvert> records;
  std::vector<std::uint8_t> forgotten;
  std::map<std::uint8_t, bool> deliver_all;
  int drains = 0;
};

// One VRRPv2 instance "vi_1" (VRID 51, 1 s adverts) holding kVip on eth0, from kOurs.
inline config::Plan plan_for(std::uint8_t priority, bool preempt = true,
                             core::Time preempt_delay = core::Time{0}) {
  config::Plan plan;
  plan.interface = "eth0";
  plan.source = kOurs;
  plan.garp = {2, 5s, core::Time{0}};
  config::InstancePlan instance;
  instance.name = "vi_1";
  instance.core.vrid = kVrid;
  instance.core.version = core::VrrpVersion::V2;
  instance.core.priority = priority;
  instance.core.advert_interval = 1s;
  instance.core.preempt = preempt;
  instance.core.preempt_delay = preempt_delay;
  instance.core.primary_address = kOurs;
  instance.vips = {config::Vip{kVip, 32}};
  plan.instances.push_back(instance);
  return plan;
}

template <typename T>
std::vector<T> all_of(const std::vector<Command>& commands) {
  std::vector<T> found;
  for (const Command& command : commands) {
    if (const auto* value = std::get_if<T>(&command)) found.push_back(*value);
  }
  return found;
}

template <typename T>
bool has(const std::vector<Command>& commands) {
  return !all_of<T>(commands).empty();
}

// The command kinds in order, without logs and timers: what the shell does on the wire and host.
inline std::vector<std::string> effects(const std::vector<Command>& commands) {
  std::vector<std::string> kinds;
  for (const Command& command : commands) {
    // Built with += pieces: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + std::string.
    std::string kind;
    if (const auto* send = std::get_if<SendAdvert>(&command)) {
      kind = "advert ";
      kind += std::to_string(send->priority);
      kind += " to ";
      kind += send->destination.to_string();
    } else if (std::holds_alternative<AddVips>(command)) {
      kind = "add VIPs";
    } else if (std::holds_alternative<RemoveVips>(command)) {
      kind = "remove VIPs";
    } else if (std::holds_alternative<Announce>(command)) {
      kind = "announce";
    } else if (const auto* changed = std::get_if<StateChanged>(&command)) {
      kind = core::to_string(changed->change.from);
      kind += " -> ";
      kind += core::to_string(changed->change.to);
    } else if (const auto* notify = std::get_if<Notify>(&command)) {
      kind = "notify ";
      kind += core::to_string(notify->state);
    }
    if (!kind.empty()) kinds.push_back(std::move(kind));
  }
  return kinds;
}

// When the last SetTimer of `kind` among `commands` asks to fire; nullopt if none.
inline std::optional<core::Time> timer_at(const std::vector<Command>& commands, TimerKind kind) {
  std::optional<core::Time> at;
  for (const SetTimer& timer : all_of<SetTimer>(commands)) {
    if (timer.timer.kind == kind) at = timer.at;
  }
  return at;
}

// Every log line of `commands`, one per line.
inline std::string logs(const std::vector<Command>& commands) {
  std::string text;
  for (const Log& line : all_of<Log>(commands)) text += line.text + "\n";
  return text;
}

// A node over a FakeReceivePath. handle() keeps, per timer kind, when the node last asked it to
// fire, so a test can fire it at that time.
class NodeFixture : public ::testing::Test {
 protected:
  void make(config::Plan plan) { node_ = std::make_unique<Node>(std::move(plan), receive_); }
  std::vector<Command> handle(core::Time now, const Input& input) {
    auto commands = node_->handle(now, input);
    for (const SetTimer& timer : all_of<SetTimer>(commands)) timers_[timer.timer.kind] = timer.at;
    return commands;
  }

  FakeReceivePath receive_;  // declared first: the node holds it until it goes
  std::unique_ptr<Node> node_;
  std::map<TimerKind, core::Time> timers_;
};

}  // namespace vipd::node::fixture
