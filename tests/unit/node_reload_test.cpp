// Reload in the node (node/reload.cpp) and the state dump (node/dump.cpp): what each kind of
// change does, and above all what it does not do (no transition, no advert, no timer change for
// what stayed the same), and that instance indices never move or get reused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "node_test_fixture.h"

namespace vipd::node {
namespace {

using namespace fixture;
using namespace std::chrono_literals;
using core::IpAddress;
using core::State;
using core::Time;
using ::testing::HasSubstr;
using ::testing::Not;

config::Vip vip(std::uint32_t last_octet) {
  return config::Vip{IpAddress::v4(0xC6120000 + last_octet), 32};
}

config::InstancePlan instance_plan(int number, std::uint8_t priority,
                                   std::vector<config::Vip> vips) {
  config::InstancePlan instance;
  instance.name = "web_VIP_" + std::to_string(number);
  instance.number = number;
  instance.core.vrid = static_cast<std::uint8_t>(50 + number);
  instance.core.version = core::VrrpVersion::V3;
  instance.core.priority = priority;
  instance.core.advert_interval = 100ms;
  instance.core.preempt = true;
  instance.core.primary_address = kOurs;
  instance.vips = std::move(vips);
  return instance;
}

// Two instances: web_VIP_1 (VRID 51) at 150, web_VIP_2 (VRID 52) at 100.
config::Plan base_plan() {
  config::Plan plan;
  plan.interface = "eth0";
  plan.ifindex = 2;
  plan.source = kOurs;
  plan.garp = {2, Time{0}, Time{0}};
  plan.instances = {instance_plan(1, 150, {vip(100)}), instance_plan(2, 100, {vip(101)})};
  return plan;
}

// Commands naming instance `index` (timers included), logs aside.
std::vector<Command> touching(const std::vector<Command>& commands, std::size_t index) {
  std::vector<Command> found;
  for (const Command& command : commands) {
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, SetTimer>) {
            if (value.timer.instance == index) found.push_back(command);
          } else if constexpr (std::is_same_v<T, OpenUnicastWindow>) {
            // Per VRID, not per instance: a window concerns whichever instance runs the VRID.
          } else if constexpr (std::is_same_v<T, Log> || std::is_same_v<T, PlanReplaced> ||
                               std::is_same_v<T, CheckNow> || std::is_same_v<T, PeersChanged>) {
          } else {
            if (value.instance == index) found.push_back(command);
          }
        },
        command);
  }
  return found;
}

class ReloadTest : public NodeFixture {
 protected:
  void SetUp() override { make(base_plan()); }

  // Instance 0 MASTER (its down timer fired), instance 1 BACKUP hearing kPeer at 200.
  void settle() {
    handle(kT0, Start{});
    const Time down = node_->instance(0).core.deadline();
    receive_.pending.push_back(
        AdvertEvent{HeardAdvert{kT0 + 10ms, 52, core::RxAdvert{kPeer, 200, 10}}, {}});
    handle(kT0 + 10ms, AdvertsPending{});
    handle(down, TimerExpired{TimerId{TimerKind::Protocol, 0}});
    ASSERT_EQ(node_->instance(0).core.state(), State::Master);
    ASSERT_EQ(node_->instance(1).core.state(), State::Backup);
    now_ = down + 20ms;
  }

  std::vector<Command> reload(const config::Plan& plan) { return handle(now_, Reload{plan}); }

  Time now_{0};
};

TEST_F(ReloadTest, AnUnchangedPlanTouchesNothing) {
  settle();
  const Time deadline0 = node_->instance(0).core.deadline();
  const Time deadline1 = node_->instance(1).core.deadline();
  const auto commands = reload(base_plan());
  ASSERT_EQ(all_of<PlanReplaced>(commands).size(), 1u);
  EXPECT_TRUE(all_of<PlanReplaced>(commands).front().created.empty());
  EXPECT_TRUE(touching(commands, 0).empty());
  EXPECT_TRUE(touching(commands, 1).empty());
  EXPECT_TRUE(all_of<StateChanged>(commands).empty());
  EXPECT_EQ(node_->instance(0).core.deadline(), deadline0) << "an advert gap or an early advert";
  EXPECT_EQ(node_->instance(1).core.deadline(), deadline1);
  EXPECT_EQ(node_->size(), 2u);
  EXPECT_THAT(logs(commands), HasSubstr("2 instance(s) unchanged, 0 changed, 0 added, 0 removed"));
}

TEST_F(ReloadTest, APriorityChangeTakesEffectWithTheNextAdvertWithoutATransition) {
  settle();
  config::Plan next = base_plan();
  next.instances[0].core.priority = 120;
  const auto commands = reload(next);
  EXPECT_TRUE(all_of<StateChanged>(commands).empty());
  EXPECT_TRUE(all_of<SendAdvert>(commands).empty()) << "nothing is sent at once";
  EXPECT_THAT(logs(commands), HasSubstr("(web_VIP_1) Changing effective priority from 150 to 120"));
  EXPECT_EQ(node_->instance(0).base_priority, 120);
  EXPECT_EQ(node_->instance(0).core.priority(), 120);
  EXPECT_EQ(node_->instance(0).core.state(), State::Master);
  const auto next_advert =
      handle(node_->instance(0).core.deadline(), TimerExpired{TimerId{TimerKind::Protocol, 0}});
  ASSERT_EQ(all_of<SendAdvert>(next_advert).size(), 1u);
  EXPECT_EQ(all_of<SendAdvert>(next_advert).front().priority, 120);
}

TEST_F(ReloadTest, AVipListChangeOnAMasterMovesExactlyTheChangedAddresses) {
  settle();
  config::Plan next = base_plan();
  next.instances[0].vips = {vip(110), vip(100), vip(111)};  // 100 stays, 110 and 111 come
  auto commands = reload(next);
  EXPECT_TRUE(all_of<StateChanged>(commands).empty());
  EXPECT_TRUE(all_of<AddVips>(commands).empty());
  EXPECT_TRUE(all_of<RemoveVips>(commands).empty());
  ASSERT_EQ(all_of<AddAddresses>(commands).size(), 1u);
  EXPECT_EQ(all_of<AddAddresses>(commands).front().vips,
            (std::vector<config::Vip>{vip(110), vip(111)}));
  EXPECT_TRUE(all_of<RemoveAddresses>(commands).empty());
  EXPECT_EQ(all_of<Announce>(commands).size(), 1u) << "the new addresses are announced";
  EXPECT_EQ(node_->instance(0).plan.vips, next.instances[0].vips);

  next.instances[0].vips = {vip(111)};
  commands = reload(next);
  ASSERT_EQ(all_of<RemoveAddresses>(commands).size(), 1u);
  EXPECT_EQ(all_of<RemoveAddresses>(commands).front().vips,
            (std::vector<config::Vip>{vip(110), vip(100)}));
  EXPECT_TRUE(all_of<AddAddresses>(commands).empty());
  EXPECT_TRUE(all_of<StateChanged>(commands).empty());
  EXPECT_TRUE(node_->instance(0).holds_vips);
  // A VIP removed by reload and then reported missing is not re-added.
  const auto missing = handle(now_ + 1ms, VipMissing{vip(100).address});
  EXPECT_TRUE(all_of<AddVips>(missing).empty());
}

TEST_F(ReloadTest, AVipListChangeOnABackupChangesNothingOnTheHost) {
  settle();
  config::Plan next = base_plan();
  next.instances[1].vips = {vip(102)};
  const auto commands = reload(next);
  EXPECT_TRUE(all_of<AddAddresses>(commands).empty());
  EXPECT_TRUE(all_of<RemoveAddresses>(commands).empty());
  EXPECT_TRUE(all_of<StateChanged>(commands).empty());
  EXPECT_EQ(node_->instance(1).plan.vips, next.instances[1].vips);
  // It takes over with the new list.
  const auto takeover =
      handle(node_->instance(1).core.deadline(), TimerExpired{TimerId{TimerKind::Protocol, 1}});
  EXPECT_EQ(node_->instance(1).core.state(), State::Master);
  ASSERT_EQ(all_of<AddVips>(takeover).size(), 1u);
}

TEST_F(ReloadTest, ARemovedMasterHandsOffWithPriorityZeroAndItsSlotIsRetired) {
  settle();
  config::Plan next = base_plan();
  next.instances.erase(next.instances.begin());
  const auto commands = reload(next);
  const auto sent = all_of<SendAdvert>(commands);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent.front().instance, 0u);
  EXPECT_EQ(sent.front().priority, 0);
  ASSERT_EQ(all_of<RemoveVips>(commands).size(), 1u);
  const auto changes = all_of<StateChanged>(commands);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes.front().change.to, State::Stopped);
  int disarmed = 0;
  for (const SetTimer& timer : all_of<SetTimer>(commands)) {
    if (timer.timer.instance == 0 && timer.at == core::kNever) ++disarmed;
  }
  EXPECT_GE(disarmed, static_cast<int>(kTimerKinds));
  EXPECT_TRUE(touching(commands, 1).empty()) << "the other instance is untouched";
  EXPECT_EQ(node_->size(), 2u) << "the retired slot stays";
  EXPECT_FALSE(node_->active(0));
  EXPECT_FALSE(node_->find(51).has_value());
  EXPECT_FALSE(receive_.deliver_all[51]);
  // A stale timer of the retired slot does nothing; a later Start does not revive it.
  EXPECT_TRUE(handle(now_ + 1s, TimerExpired{TimerId{TimerKind::Protocol, 0}}).empty());
  handle(now_ + 1s, Shutdown{});
  handle(now_ + 2s, Start{});
  EXPECT_EQ(node_->instance(0).core.state(), State::Stopped);
  EXPECT_EQ(node_->instance(1).core.state(), State::Backup);
}

TEST_F(ReloadTest, AnAddedInstanceStartsInANewSlot) {
  settle();
  config::Plan next = base_plan();
  next.instances.push_back(instance_plan(3, 100, {vip(103)}));
  const auto commands = reload(next);
  ASSERT_EQ(node_->size(), 3u);
  EXPECT_EQ(node_->find(53), 2u);
  const auto changes = all_of<StateChanged>(commands);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes.front().instance, 2u);
  EXPECT_EQ(changes.front().change.to, State::Backup);
  EXPECT_FALSE(touching(commands, 2).empty());
  EXPECT_TRUE(touching(commands, 0).empty());
  EXPECT_TRUE(touching(commands, 1).empty());
  // PlanReplaced comes first, so the shell has the new slot before any command names it.
  ASSERT_TRUE(std::holds_alternative<PlanReplaced>(commands.front()));
  EXPECT_EQ(std::get<PlanReplaced>(commands.front()).created, std::vector<std::size_t>{2});
  EXPECT_THAT(logs(commands), HasSubstr("(web_VIP_3) added by reload (VRID 53)"));
}

TEST_F(ReloadTest, AnAddedInstanceInheritsTheNodeWideFaults) {
  settle();
  handle(now_, FaultChanged{core::FaultReason::InterfaceDown, true, std::nullopt});
  config::Plan next = base_plan();
  next.instances.push_back(instance_plan(3, 100, {vip(103)}));
  reload(next);
  EXPECT_EQ(node_->instance(2).core.state(), State::Fault);
  const auto up =
      handle(now_ + 1s, FaultChanged{core::FaultReason::InterfaceDown, false, std::nullopt});
  EXPECT_EQ(node_->instance(2).core.state(), State::Backup);
}

TEST_F(ReloadTest, AnIntervalChangeRestartsTheInstanceInANewSlotAndTheNextRestartReusesTheOld) {
  settle();
  config::Plan next = base_plan();
  next.instances[1].core.advert_interval = 200ms;
  const auto commands = reload(next);
  EXPECT_THAT(logs(commands), HasSubstr("advert interval (0.1 s -> 0.2 s) changed"));
  EXPECT_FALSE(node_->active(1));
  ASSERT_EQ(node_->size(), 3u);
  EXPECT_EQ(node_->find(52), 2u);
  EXPECT_EQ(node_->instance(2).core.config().advert_interval, 200ms);
  EXPECT_TRUE(touching(commands, 0).empty());
  // Slot 1 is not reused by the reload that retires it: its stop commands (priority 0,
  // RemoveVips) in this batch still name it. The next restart takes it.
  EXPECT_EQ(std::get<PlanReplaced>(commands.front()).created, std::vector<std::size_t>{2});
  next.instances[1].core.advert_interval = 300ms;
  reload(next);
  EXPECT_EQ(node_->size(), 3u);
  EXPECT_EQ(node_->find(52), 1u);
  EXPECT_FALSE(node_->active(2));
}

TEST_F(ReloadTest, ASlotRetiredByAnEarlierReloadIsReused) {
  settle();
  config::Plan without = base_plan();
  without.instances.pop_back();
  reload(without);
  EXPECT_FALSE(node_->active(1));
  const auto commands = reload(base_plan());
  ASSERT_EQ(node_->size(), 2u) << "the new instance takes the retired slot";
  EXPECT_EQ(node_->find(52), 1u);
  EXPECT_TRUE(node_->active(1));
  EXPECT_EQ(node_->instance(1).transitions, 1u) << "a new instance: INIT -> BACKUP only";
  ASSERT_EQ(all_of<PlanReplaced>(commands).size(), 1u);
  EXPECT_EQ(all_of<PlanReplaced>(commands).front().created, std::vector<std::size_t>{1});
  EXPECT_EQ(node_->instance(0).core.state(), State::Master) << "never disturbed";
  EXPECT_EQ(node_->instance(0).transitions, 2u);  // INIT -> BACKUP -> MASTER only
}

TEST_F(ReloadTest, AThousandInstanceRestartsThroughReloadDoNotGrowTheNode) {
  settle();
  config::Plan without = base_plan();
  without.instances.pop_back();
  for (int i = 0; i < 1000; ++i) {
    reload(without);
    reload(base_plan());
  }
  EXPECT_EQ(node_->size(), 2u);
  EXPECT_EQ(node_->find(52), 1u);
  EXPECT_EQ(node_->instance(0).core.state(), State::Master);
}

TEST_F(ReloadTest, SettingsThatNeedARestartKeepTheRunningPlan) {
  settle();
  config::Plan next = base_plan();
  next.interface = "eth1";
  next.source = kPeer;
  next.unicast_peers = {kPeer};
  next.transport.multicast = false;
  next.instances[0].core.priority = 10;
  const auto commands = reload(next);
  EXPECT_TRUE(all_of<PlanReplaced>(commands).empty());
  const std::string text = logs(commands);
  EXPECT_THAT(text, HasSubstr("Reload refused: interface (eth0 -> eth1), source address "
                              "(198.18.0.2 -> 198.18.0.9), transport (multicast -> unicast) "
                              "cannot change while vipd runs"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << "one line";
  EXPECT_EQ(node_->plan().interface, "eth0");
  EXPECT_EQ(node_->instance(0).core.priority(), 150);
}

TEST_F(ReloadTest, UnicastPeersCanChangeWithinUnicastMode) {
  config::Plan unicast = base_plan();
  unicast.unicast_peers = {kPeer};
  unicast.transport.multicast = false;
  make(unicast);
  handle(kT0, Start{});
  config::Plan next = unicast;
  const IpAddress third = IpAddress::v4(0xC612000A);
  next.unicast_peers = {kPeer, third};
  const auto commands = handle(kT0 + 1ms, Reload{next});
  EXPECT_EQ(all_of<PlanReplaced>(commands).size(), 1u);
  EXPECT_EQ(node_->plan().unicast_peers.size(), 2u);
  EXPECT_EQ(all_of<PeersChanged>(commands).size(), 1u) << "the accepted sources follow";
  EXPECT_EQ(node_->peers().peers().size(), 2u);
  const auto adverts =
      handle(node_->instance(0).core.deadline(), TimerExpired{TimerId{TimerKind::Protocol, 0}});
  EXPECT_EQ(all_of<SendAdvert>(adverts).size(), 2u) << "one advert per peer";
}

TEST_F(ReloadTest, BeforeStartAddedInstancesWaitForStart) {
  // Not started yet (a health check that has not answered): nothing starts on reload.
  config::Plan next = base_plan();
  next.instances.push_back(instance_plan(3, 100, {vip(103)}));
  const auto commands = handle(kT0, Reload{next});
  EXPECT_TRUE(all_of<StateChanged>(commands).empty());
  handle(kT0 + 1ms, Start{});
  for (std::size_t i = 0; i < node_->size(); ++i) {
    EXPECT_EQ(node_->instance(i).core.state(), State::Backup) << i;
  }
}

TEST_F(ReloadTest, TheStateDumpNamesEveryActiveInstance) {
  settle();
  config::Plan next = base_plan();
  next.instances.erase(next.instances.begin());
  reload(next);
  const auto commands = handle(now_ + 1s, DumpState{});
  EXPECT_EQ(all_of<Log>(commands).size(), 4u)
      << "the node line, one active instance's state and split-brain lines, the peers";
  const std::string text = logs(commands);
  EXPECT_THAT(text, HasSubstr("State dump: interface eth0, source 198.18.0.2, multicast"));
  EXPECT_THAT(text, HasSubstr("(web_VIP_2) VRID 52 BACKUP for"));
  EXPECT_THAT(text, HasSubstr("master 198.18.0.9"));
  EXPECT_THAT(text, Not(HasSubstr("web_VIP_1")));
  EXPECT_THAT(text, HasSubstr("(web_VIP_2) peers heard: 198.18.0.9 ("));
  EXPECT_THAT(text, HasSubstr("split brains settled: vrrp 0, foreign 0, no conflict"));
  EXPECT_THAT(text, HasSubstr("Unicast peers: none"));
  for (const Command& command : commands) {
    EXPECT_TRUE(std::holds_alternative<Log>(command)) << "a dump only logs";
  }
}

// The dump names the transport as check-config and `vipd status` do: peers on top of multicast is
// "hybrid", not "unicast", and unicast-only mode is "unicast" even before a DNS peer resolves.
TEST_F(ReloadTest, TheStateDumpNamesTheTransportAsThePlanViewDoes) {
  config::Plan hybrid = base_plan();
  hybrid.unicast_peers = {kPeer};
  make(hybrid);
  const std::string dump = logs(handle(kT0, DumpState{}));
  EXPECT_THAT(dump, HasSubstr("State dump: interface eth0, source 198.18.0.2, hybrid,"));
  EXPECT_THAT(dump, HasSubstr("Unicast peers: 198.18.0.9 (configured)"));

  config::Plan unicast = base_plan();
  unicast.transport.multicast = false;
  unicast.transport.peer_names = {"peer.example"};
  make(unicast);
  EXPECT_THAT(logs(handle(kT0, DumpState{})),
              HasSubstr("State dump: interface eth0, source 198.18.0.2, unicast,"));
}

}  // namespace
}  // namespace vipd::node
