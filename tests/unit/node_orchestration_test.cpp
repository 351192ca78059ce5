// The per-node orchestration without a network: inputs in, commands out, against a fake receive
// path. What the daemon does around the protocol core is tested here, not only in the lab.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
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

const IpAddress kOther = IpAddress::v4(0xC612000A);  // 198.18.0.10

class NodeTest : public NodeFixture {
 protected:
  std::vector<Command> timer(Time now, TimerKind kind = TimerKind::Protocol) {
    return handle(now, TimerExpired{TimerId{kind, 0}});
  }
  const core::Instance& core() const { return node_->instance(0).core; }

  // Started, then master after its Master_Down_Interval, its VIPs added by the shell (unless
  // `confirm_vips` is false: the shell has not answered AddVips yet).
  Time make_master(bool confirm_vips = true) {
    handle(kT0, Start{});
    const Time down = core().deadline();
    timer(down);
    EXPECT_EQ(core().state(), State::Master);
    if (confirm_vips) handle(down, VipsAdded{0});
    return down;
  }
};

TEST_F(NodeTest, StartEntersBackupAndArmsTheMasterDownTimer) {
  make(plan_for(100));
  const auto commands = handle(kT0, Start{});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"INIT -> BACKUP", "notify BACKUP"}));
  EXPECT_EQ(timer_at(commands, TimerKind::Protocol), kT0 + core().master_down_interval());
  EXPECT_THAT(logs(commands), HasSubstr("(vi_1) Entering BACKUP STATE (init)"));
  EXPECT_TRUE(node_->started());
}

TEST_F(NodeTest, BecomingMasterSendsAddsAnnouncesAndSwitchesTheKernelToDeliverAll) {
  make(plan_for(100));
  handle(kT0, Start{});
  const Time down = core().deadline();
  const auto commands = timer(down);
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"BACKUP -> MASTER", "notify MASTER",
                                                         "advert 100 to 224.0.0.18", "add VIPs"}));
  EXPECT_TRUE(receive_.deliver_all[kVrid]);
  EXPECT_TRUE(node_->instance(0).holds_vips);
  // The announcement waits for the shell's word that the VIPs are on the interface.
  const auto added = handle(down, VipsAdded{0});
  EXPECT_EQ(effects(added), (std::vector<std::string>{"announce"}));
  EXPECT_EQ(all_of<Announce>(added).front().repeat, 2);
  EXPECT_TRUE(timer_at(added, TimerKind::GarpRepeat).has_value());
  EXPECT_THAT(logs(added), HasSubstr("Sending gratuitous ARP on eth0 for 198.19.0.1"));
  // A second confirmation (a re-added VIP) announces nothing more.
  EXPECT_TRUE(effects(handle(down + 1ms, VipsAdded{0})).empty());
}

// A backup's timer looks at the ring buffer and the kernel's coalesced record first: an advert the
// kernel only counted must keep it from failing over while the master lives.
TEST_F(NodeTest, CatchUpAfterAMissedWindowFeedsTheKernelRecordBeforeTheTimer) {
  make(plan_for(100));
  handle(kT0, Start{});
  receive_.advert(kT0 + 100ms, kPeer, 200);
  handle(kT0 + 100ms, AdvertsPending{});
  ASSERT_EQ(core().master_address(), kPeer);
  const Time deadline = core().deadline();
  // The master kept sending; the kernel coalesced every copy into its record.
  receive_.record(deadline - 50ms, kPeer, 200);
  const auto commands = timer(deadline);
  EXPECT_EQ(core().state(), State::Backup) << "failed over although the master was heard";
  EXPECT_EQ(timer_at(commands, TimerKind::Protocol),
            deadline - 50ms + core().master_down_interval());
  EXPECT_EQ(node_->instance(0).records_fed, 1u);
  // Fed once: an older record is not fed again.
  const auto again = timer(deadline - 50ms + core().master_down_interval());
  EXPECT_EQ(core().state(), State::Master);
  EXPECT_EQ(node_->instance(0).records_fed, 1u);
  EXPECT_TRUE(has<AddVips>(again));
}

TEST_F(NodeTest, AReplacedRecordNewerThanWhatWasFedCountsFirst) {
  make(plan_for(100));
  handle(kT0, Start{});
  receive_.advert(kT0 + 100ms, kPeer, 200);
  handle(kT0 + 100ms, AdvertsPending{});
  // The master's refreshes were coalesced until a lower sender replaced the record.
  receive_.pending.push_back(
      AdvertEvent{HeardAdvert{kT0 + 900ms, kVrid, core::RxAdvert{kOther, 50, 100}},
                  HeardAdvert{kT0 + 800ms, kVrid, core::RxAdvert{kPeer, 200, 100}}});
  handle(kT0 + 900ms, AdvertsPending{});
  EXPECT_EQ(core().deadline(), kT0 + 800ms + core().master_down_interval());
  EXPECT_EQ(node_->instance(0).adverts_heard, 3u);
  EXPECT_EQ(node_->instance(0).records_fed, 1u);
}

TEST_F(NodeTest, AMasterHearingALowerPriorityAnswersAndReannouncesOncePerEpisode) {
  make(plan_for(100));
  const Time since = make_master();
  receive_.advert(since + 100ms, kPeer, 50);
  auto commands = handle(since + 100ms, AdvertsPending{});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"announce", "advert 100 to 224.0.0.18"}));
  EXPECT_THAT(logs(commands), HasSubstr("with lower priority 50, ours 100, forcing new election"));
  // The same peer again soon: answered, not re-announced.
  receive_.advert(since + 300ms, kPeer, 50);
  commands = handle(since + 300ms, AdvertsPending{});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"advert 100 to 224.0.0.18"}));
  // Another peer starts its own episode.
  receive_.advert(since + 400ms, kOther, 60);
  commands = handle(since + 400ms, AdvertsPending{});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"announce", "advert 100 to 224.0.0.18"}));
  // A second later the first peer is due again.
  receive_.advert(since + 1400ms, kPeer, 50);
  EXPECT_TRUE(has<Announce>(handle(since + 1400ms, AdvertsPending{})));
  // After a silence of two intervals, at once.
  receive_.advert(since + 1500ms, kPeer, 50);
  EXPECT_FALSE(has<Announce>(handle(since + 1500ms, AdvertsPending{})));
  receive_.advert(since + 3600ms, kPeer, 50);
  EXPECT_TRUE(has<Announce>(handle(since + 3600ms, AdvertsPending{})));
}

// The parting advert goes to the VIP, which the winner holds now: a node accepts unicast at its
// own VIP from anyone, at its own address only from known peers (the winner of a healed partition
// does not know us: in the lab it dropped an advert to its address and never re-announced).
class PartingAdvertTest : public NodeTest {
 protected:
  // A master at priority 100 beaten by kPeer at 200: what it does as it steps down.
  std::vector<Command> beaten(const config::Plan& plan) {
    make(plan);
    const Time since = make_master();
    receive_.advert(since + 100ms, kPeer, 200);
    return handle(since + 100ms, AdvertsPending{});
  }
};

TEST_F(PartingAdvertTest, AMasterBeatenByAHigherPrioritySendsItToTheWinnersVipOnly) {
  const auto commands = beaten(plan_for(100));
  EXPECT_EQ(effects(commands),
            (std::vector<std::string>{"remove VIPs", "MASTER -> BACKUP", "advert 100 to 198.19.0.1",
                                      "notify BACKUP"}));
  EXPECT_FALSE(receive_.deliver_all[kVrid]);
  EXPECT_EQ(timer_at(commands, TimerKind::GarpRepeat), core::kNever);
}

TEST_F(PartingAdvertTest, WithoutAVipOfTheWinnersFamilyItGoesToTheWinnersAddress) {
  config::Plan plan = plan_for(100);
  plan.instances[0].vips = {config::Vip{*IpAddress::parse("fd00:198:18:1::1"), 128}};
  EXPECT_EQ(effects(beaten(plan)),
            (std::vector<std::string>{"remove VIPs", "MASTER -> BACKUP", "advert 100 to 198.18.0.9",
                                      "notify BACKUP"}));
}

TEST_F(NodeTest, AFaultSendsPriorityZeroBeforeRemovingTheVips) {
  make(plan_for(100));
  const Time since = make_master();
  const auto commands =
      handle(since + 10ms, FaultChanged{core::FaultReason::InterfaceDown, true, std::nullopt});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"advert 0 to 224.0.0.18", "remove VIPs",
                                                         "MASTER -> FAULT", "notify FAULT"}));
  EXPECT_THAT(logs(commands), HasSubstr("Netlink reports eth0 down"));
  // Raised again: nothing new.
  EXPECT_TRUE(
      handle(since + 20ms, FaultChanged{core::FaultReason::InterfaceDown, true, std::nullopt})
          .empty());
  // Cleared: back in service as backup, the preempt window reopened.
  const auto cleared =
      handle(since + 30ms, FaultChanged{core::FaultReason::InterfaceDown, false, std::nullopt});
  EXPECT_EQ(effects(cleared), (std::vector<std::string>{"FAULT -> BACKUP", "notify BACKUP"}));
}

TEST_F(NodeTest, ShutdownSendsPriorityZeroBeforeRemovingTheVips) {
  make(plan_for(100));
  const Time since = make_master();
  const auto commands = handle(since + 10ms, Shutdown{});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"advert 0 to 224.0.0.18", "remove VIPs",
                                                         "MASTER -> STOP", "notify STOP"}));
  EXPECT_FALSE(node_->instance(0).holds_vips);
  EXPECT_EQ(timer_at(commands, TimerKind::Protocol), core::kNever);
}

TEST_F(NodeTest, UnicastPeersGetOneAdvertEach) {
  config::Plan plan = plan_for(100);
  plan.unicast_peers = {kPeer, kOther};
  make(plan);
  handle(kT0, Start{});
  const auto commands = timer(core().deadline());
  const auto sends = all_of<SendAdvert>(commands);
  // Hybrid transport: the group, then each peer.
  ASSERT_EQ(sends.size(), 3u);
  EXPECT_EQ(sends[1].destination, kPeer);
  EXPECT_EQ(sends[2].destination, kOther);
  EXPECT_EQ(node_->instance(0).adverts_sent, 3u);
}

TEST_F(NodeTest, WithAHealthCheckInstancesWaitForItsFirstAnswer) {
  config::Plan plan = plan_for(100);
  plan.health.kind = config::HealthPlan::Kind::TcpPort;
  make(plan);
  EXPECT_TRUE(handle(kT0, Start{}).empty());
  EXPECT_FALSE(node_->started());
  const auto commands = handle(kT0 + 1s, CheckResult{false, "connection refused"});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"INIT -> FAULT", "notify FAULT"}));
  const auto passed = handle(kT0 + 2s, CheckResult{true, ""});
  EXPECT_EQ(effects(passed), (std::vector<std::string>{"FAULT -> BACKUP", "notify BACKUP"}));
}

// A failing check with a weight moves the priority instead of faulting; the kernel's record was
// judged against the old priority, so it is dropped.
TEST_F(NodeTest, ACheckWeightChangesTheEffectivePriority) {
  config::Plan plan = plan_for(100);
  plan.health.kind = config::HealthPlan::Kind::Script;
  plan.health.weight = -30;
  make(plan);
  handle(kT0, Start{});
  auto commands = handle(kT0 + 1s, CheckResult{true, ""});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"INIT -> BACKUP", "notify BACKUP"}));
  EXPECT_EQ(core().priority(), 100);
  receive_.record(kT0 + 1s, kPeer, 90);
  commands = handle(kT0 + 2s, CheckResult{false, "exit 1"});
  EXPECT_EQ(core().priority(), 70);
  EXPECT_EQ(node_->check_adjustment(), -30);
  EXPECT_THAT(logs(commands), HasSubstr("(vi_1) Changing effective priority from 100 to 70"));
  EXPECT_EQ(receive_.forgotten, (std::vector<std::uint8_t>{kVrid}));
  // A positive weight adds while the check passes.
  config::Plan raising = plan_for(100);
  raising.health.kind = config::HealthPlan::Kind::Script;
  raising.health.weight = 20;
  make(raising);
  handle(kT0, Start{});
  handle(kT0 + 1s, CheckResult{true, ""});
  EXPECT_EQ(core().priority(), 120);
  handle(kT0 + 2s, CheckResult{false, ""});
  EXPECT_EQ(core().priority(), 100);
}

TEST_F(NodeTest, APreemptDelayWindowEndFeedsTheRecordOfAdvertsAcceptedInsideIt) {
  make(plan_for(200, true, 3s));
  const auto started = handle(kT0, Start{});
  EXPECT_EQ(timer_at(started, TimerKind::PreemptWindowEnd), kT0 + 3s);
  receive_.advert(kT0 + 1s, kPeer, 100);  // lower, but inside the window: followed
  handle(kT0 + 1s, AdvertsPending{});
  ASSERT_EQ(core().master_address(), kPeer);
  receive_.record(kT0 + 2900ms, kPeer, 100);
  timer(kT0 + 3s, TimerKind::PreemptWindowEnd);
  EXPECT_EQ(core().deadline(), kT0 + 2900ms + core().master_down_interval());
}

TEST_F(NodeTest, AVipTheHostRefusedPutsTheInstanceInFault) {
  make(plan_for(100));
  const Time since = make_master(/*confirm_vips=*/false);
  const auto commands =
      handle(since + 1ms, VipAddFailed{0, "add 198.19.0.1/32: Operation not permitted"});
  EXPECT_EQ(effects(commands), (std::vector<std::string>{"advert 0 to 224.0.0.18", "remove VIPs",
                                                         "MASTER -> FAULT", "notify FAULT"}));
  EXPECT_THAT(logs(commands), HasSubstr("(vi_1) cannot add VIP: add 198.19.0.1/32: Operation not"));
  // No SIGHUP reload on this branch: the line must not promise one.
  EXPECT_THAT(logs(commands), HasSubstr("the instance stays in FAULT"));
  EXPECT_THAT(logs(commands), HasSubstr("until vipd is restarted"));
  EXPECT_THAT(logs(commands), Not(HasSubstr("reload")));
  EXPECT_EQ(node_->instance(0).faults, static_cast<std::uint8_t>(core::FaultReason::VipRejected));
}

TEST_F(NodeTest, AVipTheHostRefusedIsNeverAnnounced) {
  make(plan_for(100));
  const Time since = make_master(/*confirm_vips=*/false);
  const auto refused = handle(since, VipAddFailed{0, "add 198.19.0.1/32: Invalid input data"});
  EXPECT_TRUE(all_of<Announce>(refused).empty());
  const std::optional<Time> repeat = timer_at(refused, TimerKind::GarpRepeat);
  EXPECT_TRUE(!repeat || *repeat == core::kNever) << "no repeat burst armed";
  EXPECT_THAT(logs(refused), Not(HasSubstr("gratuitous ARP")));
  // FAULT: neither a late confirmation nor the repeat timer announces anything.
  EXPECT_TRUE(all_of<Announce>(handle(since + 1ms, VipsAdded{0})).empty());
  EXPECT_TRUE(all_of<Announce>(timer(since + 2s, TimerKind::GarpRepeat)).empty());
  EXPECT_EQ(core().state(), State::Fault);
}

TEST_F(NodeTest, AVipRemovedByHandWhileMasterIsAddedAgain) {
  make(plan_for(100));
  const Time since = make_master();
  EXPECT_EQ(effects(handle(since + 1s, VipMissing{IpAddress::v4(0xC6130001)})),
            (std::vector<std::string>{"add VIPs"}));
  EXPECT_TRUE(handle(since + 1s, VipMissing{kOther}).empty()) << "not one of our VIPs";
}

TEST_F(NodeTest, KernelRecordsForPortsAndConflictsBecomeCommandsAndLogLines) {
  make(plan_for(100));
  make_master();
  receive_.pending.push_back(PortRefused{8080, 3});
  receive_.pending.push_back(
      VipClaimed{IpAddress::v4(0xC6130001), kVrid, core::MacAddress{2, 0, 0, 0, 0, 9}});
  const auto commands = handle(kT0 + 10s, AdvertsPending{});
  ASSERT_EQ(all_of<CheckNow>(commands).size(), 1u);
  EXPECT_EQ(all_of<CheckNow>(commands).front().port, 8080);
  EXPECT_THAT(logs(commands), HasSubstr("(vi_1) VIP 198.19.0.1 is also held by 02:00:00:00:00:09 "
                                        "on eth0: a second MASTER? contacting it by unicast"));
}

TEST_F(NodeTest, AdvertsForAnotherVridAreNotOurs) {
  make(plan_for(100));
  handle(kT0, Start{});
  receive_.pending.push_back(
      AdvertEvent{HeardAdvert{kT0 + 1s, 99, core::RxAdvert{kPeer, 200, 100}}, {}});
  handle(kT0 + 1s, AdvertsPending{});
  EXPECT_EQ(node_->instance(0).adverts_heard, 0u);
  EXPECT_FALSE(core().master_address().has_value());
}

TEST_F(NodeTest, SetBasePriorityTakesEffectWithTheNextAdvert) {
  make(plan_for(100));
  const Time since = make_master();
  EXPECT_TRUE(effects(handle(since + 1ms, SetBasePriority{0, 150})).empty());
  EXPECT_EQ(node_->instance(0).base_priority, 150);
  const auto commands = timer(core().deadline());
  EXPECT_EQ(all_of<SendAdvert>(commands).front().priority, 150);
}

}  // namespace
}  // namespace vipd::node
