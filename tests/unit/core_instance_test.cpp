// The VRRP state machine (RFC 5798/9568 section 6, keepalived's Fault semantics). The daemon runs
// the returned actions in order, so every test asserts the whole action list, order included.
#include "vipd/core/instance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vipd::core {
namespace {

using namespace std::chrono_literals;

// A start time far from zero, so that code assuming "now == 0" cannot pass by accident.
constexpr Time kT0 = 1000s;

constexpr const char* kLocal = "198.18.0.10";
constexpr const char* kPeer = "198.18.0.200";   // higher than kLocal: wins equal-priority ties
constexpr const char* kLowPeer = "198.18.0.9";  // lower than kLocal: loses equal-priority ties

IpAddress ip(const char* text) {
  const auto address = IpAddress::parse(text);
  if (!address) ADD_FAILURE() << "bad test address " << text;
  return address.value_or(IpAddress{});
}

// ---- Actions as text: readable diffs of whole action lists. ----

std::string describe(Time t) {
  if (t == kNever) return "never";
  return "T0" + std::string(t >= kT0 ? "+" : "-") +
         std::to_string((t >= kT0 ? t - kT0 : kT0 - t).count()) + "ns";
}

const char* note_name(NoteKind kind) {
  switch (kind) {
    case NoteKind::ReceivedPriorityZero:
      return "ReceivedPriorityZero";
    case NoteKind::SentPriorityZero:
      return "SentPriorityZero";
    case NoteKind::LowerPriorityDiscarded:
      return "LowerPriorityDiscarded";
    case NoteKind::HigherPriorityHeard:
      return "HigherPriorityHeard";
    case NoteKind::ForcingNewElection:
      return "ForcingNewElection";
    case NoteKind::ReceiveTimeout:
      return "ReceiveTimeout";
  }
  return "?";
}

struct Describer {
  std::string operator()(const SendAdvert& a) const {
    return "SendAdvert(" + std::to_string(a.priority) + ")";
  }
  std::string operator()(const AddVips&) const { return "AddVips"; }
  std::string operator()(const RemoveVips&) const { return "RemoveVips"; }
  std::string operator()(const Announce&) const { return "Announce"; }
  std::string operator()(const StateChange& a) const {
    return "StateChange(" + std::string(to_string(a.from)) + "->" + std::string(to_string(a.to)) +
           ", " + std::string(to_string(a.reason)) + ")";
  }
  std::string operator()(const ArmTimer& a) const { return "ArmTimer(" + describe(a.at) + ")"; }
  std::string operator()(const Note& a) const {
    return std::string("Note(") + note_name(a.kind) + ", " + a.peer.to_string() + ", " +
           std::to_string(a.priority) + ")";
  }
};

template <typename Actions>
std::vector<std::string> describe_each(const Actions& actions) {
  std::vector<std::string> out;
  for (const Action& action : actions) out.push_back(std::visit(Describer{}, action));
  return out;
}

std::vector<std::string> describe(const ActionList& actions) {
  return describe_each(actions);
}
std::vector<std::string> expected(const std::vector<Action>& actions) {
  return describe_each(actions);
}

const std::vector<std::string> kNoActions;

// ---- Configurations and instances in a known state. ----

InstanceConfig v2_config(std::uint8_t priority, const char* address = kLocal) {
  InstanceConfig config;
  config.vrid = 51;
  config.version = VrrpVersion::V2;
  config.priority = priority;
  config.advert_interval = 1s;
  config.primary_address = ip(address);
  return config;
}

InstanceConfig v3_config(std::uint8_t priority, Time interval, const char* address = kLocal) {
  InstanceConfig config = v2_config(priority, address);
  config.version = VrrpVersion::V3;
  config.advert_interval = interval;
  return config;
}

RxAdvert advert_from(const char* source, std::uint8_t priority, std::uint16_t interval_cs = 100) {
  return RxAdvert{ip(source), priority, interval_cs};
}

Instance started(const InstanceConfig& config, Time now = kT0) {
  Instance instance(config);
  instance.start(now);
  return instance;
}

// Starts as Backup and lets the Master_Down_Timer expire; returns the time it became Master.
Time make_master(Instance& instance, Time now = kT0) {
  instance.start(now);
  const Time takeover = instance.deadline();
  instance.on_timer(takeover);
  EXPECT_EQ(instance.state(), State::Master);
  return takeover;
}

Instance faulted(const InstanceConfig& config, FaultReason reason) {
  Instance instance = started(config);
  instance.raise_fault(kT0 + 1s, reason);
  EXPECT_EQ(instance.state(), State::Fault);
  return instance;
}

// ======================= names =======================

TEST(InstanceNames, StatesReasonsAndFaultsHaveLogNames) {
  EXPECT_EQ(to_string(State::Initialize), "INIT");
  EXPECT_EQ(to_string(State::Backup), "BACKUP");
  EXPECT_EQ(to_string(State::Master), "MASTER");
  EXPECT_EQ(to_string(State::Fault), "FAULT");
  EXPECT_EQ(to_string(State::Stopped), "STOP");
  EXPECT_EQ(to_string(FaultReason::InterfaceDown), "interface down");
  EXPECT_EQ(to_string(FaultReason::AddressMissing), "primary address missing");
  EXPECT_EQ(to_string(FaultReason::CheckFailed), "health check failed");
  EXPECT_EQ(to_string(StateReason::MasterDown), "master down timer expired");
}

// ======================= start =======================

TEST(InstanceStart, NewInstanceIsInitializeWithNoTimer) {
  const Instance instance(v2_config(100));
  EXPECT_EQ(instance.state(), State::Initialize);
  EXPECT_EQ(instance.deadline(), kNever);
  EXPECT_EQ(instance.priority(), 100);
  EXPECT_EQ(instance.faults(), 0);
  EXPECT_FALSE(instance.master_address().has_value());
}

TEST(InstanceStart, BackupArmsMasterDownTimerV2) {
  Instance instance(v2_config(100));
  EXPECT_EQ(describe(instance.start(kT0)),
            expected({StateChange{State::Initialize, State::Backup, StateReason::Startup},
                      ArmTimer{kT0 + 3'609'375us}}));
  EXPECT_EQ(instance.state(), State::Backup);
  EXPECT_EQ(instance.deadline(), kT0 + 3'609'375us);
  EXPECT_EQ(instance.master_down_interval(), 3'609'375us);
  EXPECT_EQ(instance.skew_time(), 609'375us);
  EXPECT_FALSE(instance.master_address().has_value());
}

TEST(InstanceStart, BackupArmsMasterDownTimerV3) {
  struct Case {
    std::uint8_t priority;
    Time interval;
    Time master_down;
  };
  const Case cases[] = {
      {100, 1s, 3'609'375'000ns}, {100, 100ms, 360'937'500ns}, {100, 10ms, 36'093'750ns},
      {200, 10ms, 32'187'500ns},  {254, 10ms, 30'078'125ns},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("priority " + std::to_string(c.priority) + " interval " +
                 std::to_string(c.interval.count()));
    Instance instance(v3_config(c.priority, c.interval));
    EXPECT_EQ(describe(instance.start(kT0)),
              expected({StateChange{State::Initialize, State::Backup, StateReason::Startup},
                        ArmTimer{kT0 + c.master_down}}));
    EXPECT_EQ(instance.master_adver_interval(), c.interval);
  }
}

TEST(InstanceStart, AddressOwnerGoesStraightToMaster) {
  Instance instance(v2_config(255));
  EXPECT_EQ(describe(instance.start(kT0)),
            expected({StateChange{State::Initialize, State::Master, StateReason::AddressOwner},
                      SendAdvert{255}, AddVips{}, Announce{}, ArmTimer{kT0 + 1s}}));
  EXPECT_EQ(instance.state(), State::Master);
  EXPECT_EQ(instance.master_address(), ip(kLocal));
}

TEST(InstanceStart, AddressOwnerV3ArmsAdvertTimerAtItsInterval) {
  Instance instance(v3_config(255, 10ms));
  EXPECT_EQ(describe(instance.start(kT0)),
            expected({StateChange{State::Initialize, State::Master, StateReason::AddressOwner},
                      SendAdvert{255}, AddVips{}, Announce{}, ArmTimer{kT0 + 10ms}}));
}

TEST(InstanceStart, FaultRaisedBeforeStartEntersFault) {
  Instance instance(v2_config(100));
  EXPECT_EQ(describe(instance.raise_fault(kT0 - 1s, FaultReason::InterfaceDown)), kNoActions);
  EXPECT_EQ(instance.state(), State::Initialize);
  EXPECT_EQ(describe(instance.start(kT0)),
            expected({StateChange{State::Initialize, State::Fault, StateReason::FaultRaised},
                      ArmTimer{kNever}}));
  EXPECT_EQ(instance.state(), State::Fault);
}

TEST(InstanceStart, AddressOwnerWithFaultEntersFaultNotMaster) {
  Instance instance(v2_config(255));
  instance.raise_fault(kT0, FaultReason::AddressMissing);
  EXPECT_EQ(describe(instance.start(kT0)),
            expected({StateChange{State::Initialize, State::Fault, StateReason::FaultRaised},
                      ArmTimer{kNever}}));
}

TEST(InstanceStart, FaultRaisedAndClearedBeforeStartLeavesNoTrace) {
  Instance instance(v2_config(100));
  instance.raise_fault(kT0, FaultReason::CheckFailed);
  EXPECT_EQ(describe(instance.clear_fault(kT0, FaultReason::CheckFailed)), kNoActions);
  EXPECT_EQ(instance.state(), State::Initialize);
  instance.start(kT0);
  EXPECT_EQ(instance.state(), State::Backup);
}

TEST(InstanceStart, SecondStartIsIgnoredInEveryRunningState) {
  Instance backup = started(v2_config(100));
  Instance master(v2_config(100));
  make_master(master);
  Instance fault = faulted(v2_config(100), FaultReason::InterfaceDown);
  for (Instance* instance : {&backup, &master, &fault}) {
    SCOPED_TRACE(std::string(to_string(instance->state())));
    const State before = instance->state();
    const Time deadline = instance->deadline();
    EXPECT_EQ(describe(instance->start(kT0 + 100s)), kNoActions);
    EXPECT_EQ(instance->state(), before);
    EXPECT_EQ(instance->deadline(), deadline);
  }
}

TEST(InstanceStart, StartAfterStopRunsAgainAsBackup) {
  Instance instance = started(v2_config(100));
  instance.stop(kT0 + 1s);
  EXPECT_EQ(describe(instance.start(kT0 + 2s)),
            expected({StateChange{State::Stopped, State::Backup, StateReason::Startup},
                      ArmTimer{kT0 + 2s + 3'609'375us}}));
}

TEST(InstanceStart, RestartForgetsTheIntervalLearnedBeforeStop) {
  Instance instance = started(v3_config(100, 1s));
  instance.on_advert(kT0 + 1s, advert_from(kPeer, 150, 50));
  ASSERT_EQ(instance.master_adver_interval(), 500ms);
  instance.stop(kT0 + 2s);
  instance.start(kT0 + 3s);
  EXPECT_EQ(instance.master_adver_interval(), 1s);
  EXPECT_EQ(instance.deadline(), kT0 + 3s + 3'609'375us);
}

// ======================= stop =======================

TEST(InstanceStop, MasterSendsPriorityZeroAndRemovesVips) {
  Instance instance(v2_config(100));
  make_master(instance);
  EXPECT_EQ(describe(instance.stop(kT0 + 10s)),
            expected({SendAdvert{0}, Note{NoteKind::SentPriorityZero, ip(kLocal), 0}, RemoveVips{},
                      StateChange{State::Master, State::Stopped, StateReason::Stopped},
                      ArmTimer{kNever}}));
  EXPECT_EQ(instance.state(), State::Stopped);
  EXPECT_FALSE(instance.master_address().has_value());
}

TEST(InstanceStop, BackupStopsSilently) {
  Instance instance = started(v2_config(100));
  EXPECT_EQ(describe(instance.stop(kT0 + 1s)),
            expected({StateChange{State::Backup, State::Stopped, StateReason::Stopped},
                      ArmTimer{kNever}}));
}

TEST(InstanceStop, FaultStopsSilently) {
  Instance instance = faulted(v2_config(100), FaultReason::InterfaceDown);
  EXPECT_EQ(describe(instance.stop(kT0 + 2s)),
            expected({StateChange{State::Fault, State::Stopped, StateReason::Stopped},
                      ArmTimer{kNever}}));
}

TEST(InstanceStop, StopBeforeStartAndSecondStopAreIgnored) {
  Instance instance(v2_config(100));
  EXPECT_EQ(describe(instance.stop(kT0)), kNoActions);
  EXPECT_EQ(instance.state(), State::Initialize);
  instance.start(kT0);
  instance.stop(kT0 + 1s);
  EXPECT_EQ(describe(instance.stop(kT0 + 2s)), kNoActions);
  EXPECT_EQ(instance.state(), State::Stopped);
}

TEST(InstanceStop, StoppedInstanceIgnoresAdvertsTimersAndFaultChanges) {
  Instance instance(v2_config(100));
  make_master(instance);
  instance.stop(kT0 + 10s);
  EXPECT_EQ(describe(instance.on_advert(kT0 + 11s, advert_from(kPeer, 200))), kNoActions);
  EXPECT_EQ(describe(instance.on_advert(kT0 + 11s, advert_from(kPeer, 0))), kNoActions);
  EXPECT_EQ(describe(instance.on_timer(kT0 + 100s)), kNoActions);
  EXPECT_EQ(describe(instance.raise_fault(kT0 + 12s, FaultReason::InterfaceDown)), kNoActions);
  EXPECT_EQ(describe(instance.clear_fault(kT0 + 13s, FaultReason::InterfaceDown)), kNoActions);
  EXPECT_EQ(instance.state(), State::Stopped);
}

TEST(InstanceStop, FaultRaisedWhileStoppedIsHonouredOnRestart) {
  Instance instance = started(v2_config(100));
  instance.stop(kT0 + 1s);
  instance.raise_fault(kT0 + 2s, FaultReason::InterfaceDown);
  EXPECT_EQ(describe(instance.start(kT0 + 3s)),
            expected({StateChange{State::Stopped, State::Fault, StateReason::FaultRaised},
                      ArmTimer{kNever}}));
}

// ======================= fault =======================

TEST(InstanceFault, MasterSendsPriorityZeroAndRemovesVipsOnFault) {
  Instance instance(v2_config(100));
  make_master(instance);
  EXPECT_EQ(describe(instance.raise_fault(kT0 + 10s, FaultReason::CheckFailed)),
            expected({SendAdvert{0}, Note{NoteKind::SentPriorityZero, ip(kLocal), 0}, RemoveVips{},
                      StateChange{State::Master, State::Fault, StateReason::FaultRaised},
                      ArmTimer{kNever}}));
  EXPECT_EQ(instance.state(), State::Fault);
  EXPECT_EQ(instance.faults(), static_cast<std::uint8_t>(FaultReason::CheckFailed));
  EXPECT_FALSE(instance.master_address().has_value());
}

TEST(InstanceFault, BackupEntersFaultWithoutAdvert) {
  Instance instance = started(v2_config(100));
  EXPECT_EQ(describe(instance.raise_fault(kT0 + 1s, FaultReason::InterfaceDown)),
            expected({StateChange{State::Backup, State::Fault, StateReason::FaultRaised},
                      ArmTimer{kNever}}));
}

TEST(InstanceFault, FaultSendsNoAdvertsAndIgnoresEveryAdvert) {
  Instance instance(v2_config(100));
  make_master(instance);
  instance.raise_fault(kT0 + 10s, FaultReason::InterfaceDown);
  for (const std::uint8_t priority : std::initializer_list<std::uint8_t>{0, 1, 99, 100, 101, 255}) {
    SCOPED_TRACE("advert priority " + std::to_string(priority));
    EXPECT_EQ(describe(instance.on_advert(kT0 + 11s, advert_from(kPeer, priority))), kNoActions);
    EXPECT_EQ(describe(instance.on_advert(kT0 + 11s, advert_from(kLowPeer, priority))), kNoActions);
  }
  EXPECT_EQ(instance.deadline(), kNever);
  for (const Time later : {kT0 + 11s, kT0 + 1000s, kT0 + 100000s}) {
    EXPECT_EQ(describe(instance.on_timer(later)), kNoActions);
  }
  EXPECT_EQ(instance.state(), State::Fault);
}

TEST(InstanceFault, ClearingTheOnlyFaultEntersBackup) {
  Instance instance(v2_config(100));
  make_master(instance);
  instance.raise_fault(kT0 + 10s, FaultReason::InterfaceDown);
  EXPECT_EQ(describe(instance.clear_fault(kT0 + 20s, FaultReason::InterfaceDown)),
            expected({StateChange{State::Fault, State::Backup, StateReason::FaultCleared},
                      ArmTimer{kT0 + 20s + 3'609'375us}}));
  EXPECT_EQ(instance.state(), State::Backup);
  EXPECT_EQ(instance.faults(), 0);
}

// RFC 5798 6.4.1: an owner coming up is Master at once; leaving Fault is such a coming up.
TEST(InstanceFault, AddressOwnerLeavingFaultGoesStraightToMaster) {
  Instance instance = faulted(v2_config(255), FaultReason::InterfaceDown);
  EXPECT_EQ(describe(instance.clear_fault(kT0 + 5s, FaultReason::InterfaceDown)),
            expected({StateChange{State::Fault, State::Master, StateReason::FaultCleared},
                      SendAdvert{255}, AddVips{}, Announce{}, ArmTimer{kT0 + 6s}}));
}

TEST(InstanceFault, LeavingFaultForgetsTheIntervalLearnedBefore) {
  Instance instance = started(v3_config(100, 1s));
  instance.on_advert(kT0 + 1s, advert_from(kPeer, 150, 200));
  ASSERT_EQ(instance.master_adver_interval(), 2s);
  instance.raise_fault(kT0 + 2s, FaultReason::InterfaceDown);
  instance.clear_fault(kT0 + 3s, FaultReason::InterfaceDown);
  EXPECT_EQ(instance.master_adver_interval(), 1s);
  EXPECT_EQ(instance.deadline(), kT0 + 3s + 3'609'375us);
}

TEST(InstanceFault, FaultPersistsUntilEveryReasonIsCleared) {
  Instance instance = started(v2_config(100));
  instance.raise_fault(kT0 + 1s, FaultReason::InterfaceDown);
  EXPECT_EQ(describe(instance.raise_fault(kT0 + 2s, FaultReason::CheckFailed)), kNoActions);
  EXPECT_EQ(describe(instance.raise_fault(kT0 + 3s, FaultReason::AddressMissing)), kNoActions);
  EXPECT_EQ(instance.faults(), 0b111);

  EXPECT_EQ(describe(instance.clear_fault(kT0 + 4s, FaultReason::InterfaceDown)), kNoActions);
  EXPECT_EQ(instance.state(), State::Fault);
  EXPECT_EQ(describe(instance.clear_fault(kT0 + 5s, FaultReason::AddressMissing)), kNoActions);
  EXPECT_EQ(instance.state(), State::Fault);
  EXPECT_EQ(instance.faults(), static_cast<std::uint8_t>(FaultReason::CheckFailed));

  EXPECT_EQ(describe(instance.clear_fault(kT0 + 6s, FaultReason::CheckFailed)),
            expected({StateChange{State::Fault, State::Backup, StateReason::FaultCleared},
                      ArmTimer{kT0 + 6s + 3'609'375us}}));
}

TEST(InstanceFault, RaisingTheSameReasonTwiceNeedsOnlyOneClear) {
  Instance instance = started(v2_config(100));
  instance.raise_fault(kT0 + 1s, FaultReason::CheckFailed);
  EXPECT_EQ(describe(instance.raise_fault(kT0 + 2s, FaultReason::CheckFailed)), kNoActions);
  instance.clear_fault(kT0 + 3s, FaultReason::CheckFailed);
  EXPECT_EQ(instance.state(), State::Backup);
}

TEST(InstanceFault, ClearingAReasonNotRaisedDoesNothing) {
  Instance in_fault = faulted(v2_config(100), FaultReason::InterfaceDown);
  EXPECT_EQ(describe(in_fault.clear_fault(kT0 + 2s, FaultReason::CheckFailed)), kNoActions);
  EXPECT_EQ(in_fault.state(), State::Fault);
  EXPECT_EQ(in_fault.faults(), static_cast<std::uint8_t>(FaultReason::InterfaceDown));

  Instance backup = started(v2_config(100));
  const Time deadline = backup.deadline();
  EXPECT_EQ(describe(backup.clear_fault(kT0 + 2s, FaultReason::InterfaceDown)), kNoActions);
  EXPECT_EQ(backup.state(), State::Backup);
  EXPECT_EQ(backup.deadline(), deadline);

  Instance master(v2_config(100));
  make_master(master);
  EXPECT_EQ(describe(master.clear_fault(kT0 + 5s, FaultReason::CheckFailed)), kNoActions);
  EXPECT_EQ(master.state(), State::Master);
}

// ======================= Backup receiving adverts =======================

TEST(InstanceBackup, PriorityZeroSetsDownTimerToSkewTime) {
  Instance instance = started(v2_config(100));
  EXPECT_EQ(describe(instance.on_advert(kT0 + 1s, advert_from(kPeer, 0))),
            expected({Note{NoteKind::ReceivedPriorityZero, ip(kPeer), 0},
                      ArmTimer{kT0 + 1s + 609'375us}}));
  EXPECT_EQ(instance.deadline(), kT0 + 1s + 609'375us);
}

TEST(InstanceBackup, PriorityZeroUsesTheV3SkewOfTheLearnedInterval) {
  Instance instance = started(v3_config(200, 1s));
  instance.on_advert(kT0 + 1s, advert_from(kPeer, 250, 10));  // learns 100 ms
  // Skew_Time = (256 - 200) * 100 ms / 256 = 21.875 ms.
  EXPECT_EQ(describe(instance.on_advert(kT0 + 2s, advert_from(kPeer, 0, 10))),
            expected({Note{NoteKind::ReceivedPriorityZero, ip(kPeer), 0},
                      ArmTimer{kT0 + 2s + 21'875us}}));
}

// RFC 5798 6.4.2: preempt off, or advert priority >= local: reset the Master_Down_Timer; else
// discard the advert and leave the timer alone.
TEST(InstanceBackup, AcceptsOrDiscardsAdvertsByPreemptAndPriority) {
  struct Case {
    bool preempt;
    std::uint8_t advert_priority;
    bool accepted;
  };
  const Case cases[] = {
      {true, 1, false},   {true, 99, false},  {true, 100, true}, {true, 101, true},
      {true, 255, true},  {false, 1, true},   {false, 99, true}, {false, 100, true},
      {false, 101, true}, {false, 255, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.preempt ? "preempt" : "nopreempt") + ", advert priority " +
                 std::to_string(c.advert_priority));
    InstanceConfig config = v2_config(100);
    config.preempt = c.preempt;
    Instance instance = started(config);
    const Time start_deadline = instance.deadline();
    const auto actions = instance.on_advert(kT0 + 2s, advert_from(kLowPeer, c.advert_priority));
    if (c.accepted) {
      EXPECT_EQ(describe(actions), expected({ArmTimer{kT0 + 2s + 3'609'375us}}));
      EXPECT_EQ(instance.master_address(), ip(kLowPeer));
    } else {
      EXPECT_EQ(
          describe(actions),
          expected({Note{NoteKind::LowerPriorityDiscarded, ip(kLowPeer), c.advert_priority}}));
      EXPECT_EQ(instance.deadline(), start_deadline);
      EXPECT_FALSE(instance.master_address().has_value());
    }
    EXPECT_EQ(instance.state(), State::Backup);
  }
}

TEST(InstanceBackup, DiscardedLowerPriorityLetsTheBackupTakeOverWhenTimerFires) {
  Instance instance = started(v2_config(100));
  const Time deadline = instance.deadline();
  for (Time t = kT0 + 1s; t < deadline; t += 1s) {
    EXPECT_EQ(describe(instance.on_advert(t, advert_from(kPeer, 50))),
              expected({Note{NoteKind::LowerPriorityDiscarded, ip(kPeer), 50}}));
  }
  EXPECT_EQ(instance.deadline(), deadline);
  instance.on_timer(deadline);
  EXPECT_EQ(instance.state(), State::Master);
}

TEST(InstanceBackup, V3LearnsTheMasterIntervalAndUsesItForTheNewDownInterval) {
  Instance instance = started(v3_config(100, 1s));
  // 50 cs: Master_Down_Interval = 3 * 500 ms + 156 * 500 ms / 256 = 1804.6875 ms.
  EXPECT_EQ(describe(instance.on_advert(kT0 + 1s, advert_from(kPeer, 150, 50))),
            expected({ArmTimer{kT0 + 1s + 1'804'687'500ns}}));
  EXPECT_EQ(instance.master_adver_interval(), 500ms);
  EXPECT_EQ(instance.skew_time(), 304'687'500ns);
  EXPECT_EQ(instance.master_down_interval(), 1'804'687'500ns);

  // Down to 10 ms: 30 ms + 6.09375 ms.
  EXPECT_EQ(describe(instance.on_advert(kT0 + 2s, advert_from(kPeer, 150, 1))),
            expected({ArmTimer{kT0 + 2s + 36'093'750ns}}));
  EXPECT_EQ(instance.master_adver_interval(), 10ms);
}

TEST(InstanceBackup, V2DoesNotLearnTheAdvertInterval) {
  Instance instance = started(v2_config(100));
  EXPECT_EQ(describe(instance.on_advert(kT0 + 1s, advert_from(kPeer, 150, 300))),
            expected({ArmTimer{kT0 + 1s + 3'609'375us}}));
  EXPECT_EQ(instance.master_adver_interval(), 1s);
}

TEST(InstanceBackup, DiscardedAdvertDoesNotTeachItsInterval) {
  Instance instance = started(v3_config(100, 1s));
  instance.on_advert(kT0 + 1s, advert_from(kPeer, 50, 10));
  EXPECT_EQ(instance.master_adver_interval(), 1s);
}

TEST(InstanceBackup, AcceptedAdvertRecordsTheMasterAddress) {
  Instance instance = started(v2_config(100));
  instance.on_advert(kT0 + 1s, advert_from(kPeer, 150));
  EXPECT_EQ(instance.master_address(), ip(kPeer));
  instance.on_advert(kT0 + 2s, advert_from(kLowPeer, 200));
  EXPECT_EQ(instance.master_address(), ip(kLowPeer));
}

TEST(InstanceBackup, OwnAdvertsAreIgnored) {
  Instance instance = started(v2_config(100));
  const Time deadline = instance.deadline();
  for (const std::uint8_t priority : std::initializer_list<std::uint8_t>{0, 50, 100, 200, 255}) {
    EXPECT_EQ(describe(instance.on_advert(kT0 + 1s, advert_from(kLocal, priority))), kNoActions)
        << "priority " << int{priority};
  }
  EXPECT_EQ(instance.deadline(), deadline);
  EXPECT_FALSE(instance.master_address().has_value());
}

// ======================= Master receiving adverts =======================

TEST(InstanceMaster, HigherPriorityMakesItBackupWithoutPriorityZero) {
  Instance instance(v2_config(100));
  const Time since = make_master(instance);
  const Time now = since + 5s;
  EXPECT_EQ(describe(instance.on_advert(now, advert_from(kLowPeer, 101))),
            expected({Note{NoteKind::HigherPriorityHeard, ip(kLowPeer), 101}, RemoveVips{},
                      StateChange{State::Master, State::Backup, StateReason::HigherPriority},
                      ArmTimer{now + 3'609'375us}}));
  EXPECT_EQ(instance.state(), State::Backup);
  EXPECT_EQ(instance.master_address(), ip(kLowPeer));
}

TEST(InstanceMaster, V3BackupAfterHigherPriorityUsesTheAdvertsInterval) {
  Instance instance(v3_config(100, 1s));
  const Time now = make_master(instance) + 1s;
  EXPECT_EQ(describe(instance.on_advert(now, advert_from(kPeer, 200, 50))),
            expected({Note{NoteKind::HigherPriorityHeard, ip(kPeer), 200}, RemoveVips{},
                      StateChange{State::Master, State::Backup, StateReason::HigherPriority},
                      ArmTimer{now + 1'804'687'500ns}}));
  EXPECT_EQ(instance.master_adver_interval(), 500ms);
}

// Equal priorities: the higher primary address wins, compared as unsigned bytes in network order.
TEST(InstanceMaster, EqualPriorityTieBreakByPrimaryAddress) {
  struct Case {
    const char* local;
    const char* peer;
    bool local_wins;
  };
  const Case cases[] = {
      {"198.18.0.10", "198.18.0.200", false},  // 200 > 10 only as an unsigned byte
      {"198.18.0.200", "198.18.0.10", true},    {"198.18.0.10", "198.18.0.9", true},
      {"198.18.0.9", "198.18.0.10", false},  // 10 > 9 numerically, "10" < "9" as text
      {"198.18.1.1", "198.18.0.255", true},  // the first differing byte decides, not the last
      {"198.18.0.255", "198.18.1.1", false},    {"198.19.0.0", "198.18.255.255", true},
      {"198.18.128.0", "198.18.127.255", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string("local ") + c.local + " vs peer " + c.peer);
    Instance instance(v2_config(100, c.local));
    const Time now = make_master(instance) + 1s;
    const auto actions = instance.on_advert(now, advert_from(c.peer, 100));
    if (c.local_wins) {
      EXPECT_EQ(describe(actions), expected({Note{NoteKind::ForcingNewElection, ip(c.peer), 100},
                                             SendAdvert{100}, ArmTimer{now + 1s}}));
      EXPECT_EQ(instance.state(), State::Master);
    } else {
      EXPECT_EQ(describe(actions),
                expected({Note{NoteKind::HigherPriorityHeard, ip(c.peer), 100}, RemoveVips{},
                          StateChange{State::Master, State::Backup, StateReason::HigherPriority},
                          ArmTimer{now + 3'609'375us}}));
      EXPECT_EQ(instance.state(), State::Backup);
    }
  }
}

TEST(InstanceMaster, EqualPriorityTieBreakWorksForIpv6) {
  Instance loses(v3_config(100, 1s, "fd00:198:18::10"));
  Time now = make_master(loses) + 1s;
  loses.on_advert(now, advert_from("fd00:198:18::200", 100));
  EXPECT_EQ(loses.state(), State::Backup);

  Instance wins(v3_config(100, 1s, "fd00:198:18::ff00"));
  now = make_master(wins) + 1s;
  wins.on_advert(now, advert_from("fd00:198:18::1:0", 100));  // ...::1:0 > ...::ff00
  EXPECT_EQ(wins.state(), State::Backup);
}

// RFC 9568 6.4.3: a Master hearing a lower priority answers at once so the peer learns of it.
TEST(InstanceMaster, LowerPriorityForcesAnImmediateAdvert) {
  Instance instance(v2_config(100));
  const Time now = make_master(instance) + 300ms;
  EXPECT_EQ(describe(instance.on_advert(now, advert_from(kPeer, 99))),
            expected({Note{NoteKind::ForcingNewElection, ip(kPeer), 99}, SendAdvert{100},
                      ArmTimer{now + 1s}}));
  EXPECT_EQ(instance.state(), State::Master);
  EXPECT_EQ(instance.deadline(), now + 1s);
  EXPECT_EQ(instance.master_address(), ip(kLocal));
}

TEST(InstanceMaster, PriorityZeroTriggersAnImmediateAdvert) {
  Instance instance(v3_config(100, 100ms));
  const Time now = make_master(instance) + 30ms;
  EXPECT_EQ(describe(instance.on_advert(now, advert_from(kPeer, 0, 10))),
            expected({SendAdvert{100}, ArmTimer{now + 100ms}}));
  EXPECT_EQ(instance.state(), State::Master);
}

TEST(InstanceMaster, OwnAdvertsAreIgnored) {
  Instance instance(v2_config(100));
  const Time since = make_master(instance);
  for (const std::uint8_t priority : std::initializer_list<std::uint8_t>{0, 50, 100, 200, 255}) {
    EXPECT_EQ(describe(instance.on_advert(since + 1ms, advert_from(kLocal, priority))), kNoActions)
        << "priority " << int{priority};
  }
  EXPECT_EQ(instance.state(), State::Master);
  EXPECT_EQ(instance.deadline(), since + 1s);
}

TEST(InstanceMaster, NopreemptMasterStillYieldsToHigherPriority) {
  InstanceConfig config = v2_config(100);
  config.preempt = false;
  Instance instance(config);
  const Time now = make_master(instance) + 1s;
  instance.on_advert(now, advert_from(kPeer, 150));
  EXPECT_EQ(instance.state(), State::Backup);
}

TEST(InstanceMaster, AddressOwnerAnswersLowerPriorityAtOnce) {
  Instance instance = started(v2_config(255));
  EXPECT_EQ(describe(instance.on_advert(kT0 + 10ms, advert_from(kPeer, 254))),
            expected({Note{NoteKind::ForcingNewElection, ip(kPeer), 254}, SendAdvert{255},
                      ArmTimer{kT0 + 1010ms}}));
}

// ======================= timer =======================

TEST(InstanceTimer, BackupExpiryBecomesMaster) {
  Instance instance = started(v2_config(100));
  const Time deadline = kT0 + 3'609'375us;
  EXPECT_EQ(describe(instance.on_timer(deadline)),
            expected({Note{NoteKind::ReceiveTimeout, IpAddress{}, 100},
                      StateChange{State::Backup, State::Master, StateReason::MasterDown},
                      SendAdvert{100}, AddVips{}, Announce{}, ArmTimer{deadline + 1s}}));
  EXPECT_EQ(instance.state(), State::Master);
  EXPECT_EQ(instance.master_address(), ip(kLocal));
}

TEST(InstanceTimer, MasterTakingOverAdvertisesAtItsOwnIntervalNotTheLearnedOne) {
  Instance instance = started(v3_config(100, 100ms));
  instance.on_advert(kT0 + 10ms, advert_from(kPeer, 200, 200));  // learns 2 s
  const Time deadline = instance.deadline();
  ASSERT_EQ(deadline, kT0 + 10ms + 6s + 1'218'750us);
  const auto actions = instance.on_timer(deadline);
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(std::visit(Describer{}, actions[actions.size() - 1]),
            std::visit(Describer{}, Action{ArmTimer{deadline + 100ms}}));
  EXPECT_EQ(instance.master_adver_interval(), 100ms);
}

TEST(InstanceTimer, MasterExpirySendsAdvertAndRearms) {
  Instance instance(v3_config(100, 10ms));
  Time due = make_master(instance) + 10ms;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(describe(instance.on_timer(due)), expected({SendAdvert{100}, ArmTimer{due + 10ms}}));
    due += 10ms;
  }
  EXPECT_EQ(instance.state(), State::Master);
}

TEST(InstanceTimer, LateMasterExpiryRearmsFromNow) {
  Instance instance(v2_config(100));
  const Time late = make_master(instance) + 1s + 250ms;
  EXPECT_EQ(describe(instance.on_timer(late)), expected({SendAdvert{100}, ArmTimer{late + 1s}}));
}

TEST(InstanceTimer, EarlyCallOnlyRearmsTheCurrentDeadline) {
  Instance backup = started(v2_config(100));
  const Time backup_deadline = backup.deadline();
  for (const Time early : {kT0, backup_deadline - 1s, backup_deadline - 1ns}) {
    EXPECT_EQ(describe(backup.on_timer(early)), expected({ArmTimer{backup_deadline}}));
  }
  EXPECT_EQ(backup.state(), State::Backup);
  EXPECT_EQ(backup.deadline(), backup_deadline);

  Instance master(v2_config(100));
  const Time master_deadline = make_master(master) + 1s;
  EXPECT_EQ(describe(master.on_timer(master_deadline - 1ns)),
            expected({ArmTimer{master_deadline}}));
  EXPECT_EQ(master.deadline(), master_deadline);
}

TEST(InstanceTimer, TimerBeforeStartDoesNothing) {
  Instance instance(v2_config(100));
  EXPECT_EQ(describe(instance.on_timer(kT0)), kNoActions);
  EXPECT_EQ(describe(instance.on_advert(kT0, advert_from(kPeer, 100))), kNoActions);
  EXPECT_EQ(instance.state(), State::Initialize);
}

// The kernel may coalesce repeated identical adverts: the daemon then feeds only the newest one,
// with its receive timestamp (older than now), just before handling the timer. That must end
// exactly where a daemon that saw every advert as it arrived would be. The first advert (new
// master, new interval) is not coalesced: a shorter learned interval moves the deadline earlier.
struct Outcome {
  State state;
  Time deadline;
  Time became_master_at;
};

Outcome seeing_every_advert(const InstanceConfig& config, const std::vector<Time>& arrivals,
                            const RxAdvert& advert, Time end) {
  Instance instance = started(config);
  Time became_master_at = kNever;
  std::size_t next = 0;
  for (int step = 0; step < 10'000; ++step) {
    const Time next_arrival = next < arrivals.size() ? arrivals[next] : kNever;
    if (instance.deadline() <= end && instance.deadline() <= next_arrival) {
      const Time fired = instance.deadline();
      instance.on_timer(fired);
      if (instance.state() == State::Master) {
        became_master_at = fired;
        break;
      }
    } else if (next_arrival <= end) {
      instance.on_advert(next_arrival, advert);
      ++next;
    } else {
      break;
    }
  }
  return {instance.state(), instance.deadline(), became_master_at};
}

Outcome seeing_coalesced_adverts(const InstanceConfig& config, const std::vector<Time>& arrivals,
                                 const RxAdvert& advert, Time end) {
  Instance instance = started(config);
  Time became_master_at = kNever;
  std::size_t unseen = 0;
  for (int step = 0; step < 10'000; ++step) {
    const Time fired = instance.deadline();
    if (unseen == 0 && !arrivals.empty() && arrivals[0] <= std::min(fired, end)) {
      instance.on_advert(arrivals[0], advert);  // a new master or interval is passed up at once
      unseen = 1;
      continue;
    }
    if (fired > end) break;
    std::size_t newest = unseen;
    while (newest < arrivals.size() && arrivals[newest] <= fired) ++newest;
    if (newest > unseen) {
      instance.on_advert(arrivals[newest - 1], advert);  // stale timestamp, fed late
      unseen = newest;
    }
    instance.on_timer(fired);
    if (instance.state() == State::Master) {
      became_master_at = fired;
      break;
    }
  }
  return {instance.state(), instance.deadline(), became_master_at};
}

TEST(InstanceTimer, CoalescedAdvertsWithOlderTimestampsBehaveLikeEveryAdvertSeen) {
  struct Case {
    const char* name;
    InstanceConfig config;
    RxAdvert advert;
    std::vector<Time> arrivals;
    Time end;
    Time expected_takeover;  // kNever: still Backup at `end`
  };
  std::vector<Time> steady;
  for (int i = 1; i <= 20; ++i) steady.push_back(kT0 + i * 1s);
  std::vector<Time> jitter;
  for (int i = 1; i <= 20; ++i) jitter.push_back(kT0 + i * 1s + (i % 3) * 170ms);
  std::vector<Time> gap_just_short = steady;
  gap_just_short.push_back(kT0 + 20s + 3'609'375us - 1ns);  // arrives 1 ns before the deadline
  std::vector<Time> fast;
  for (int i = 1; i <= 200; ++i) fast.push_back(kT0 + i * 10ms);
  const Case cases[] = {
      {"v2 steady then silence", v2_config(100), advert_from(kPeer, 150), steady, kT0 + 60s,
       kT0 + 20s + 3'609'375us},
      {"v2 jitter then silence", v2_config(100), advert_from(kPeer, 150), jitter, kT0 + 60s,
       jitter.back() + 3'609'375us},
      {"v2 last advert 1 ns before the deadline", v2_config(100), advert_from(kPeer, 150),
       gap_just_short, kT0 + 60s, gap_just_short.back() + 3'609'375us},
      {"v2 no silence yet", v2_config(100), advert_from(kPeer, 150), steady, kT0 + 20s + 3s,
       kNever},
      {"v2 lower-priority adverts discarded", v2_config(100), advert_from(kPeer, 50), steady,
       kT0 + 60s, kT0 + 3'609'375us},
      {"v3 10 ms learned from 1 s", v3_config(100, 1s), advert_from(kPeer, 150, 1), fast, kT0 + 60s,
       fast.back() + 36'093'750ns},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Outcome reference = seeing_every_advert(c.config, c.arrivals, c.advert, c.end);
    const Outcome coalesced = seeing_coalesced_adverts(c.config, c.arrivals, c.advert, c.end);
    EXPECT_EQ(describe(reference.became_master_at), describe(c.expected_takeover));
    EXPECT_EQ(describe(coalesced.became_master_at), describe(reference.became_master_at));
    EXPECT_EQ(coalesced.state, reference.state);
    EXPECT_EQ(describe(coalesced.deadline), describe(reference.deadline));
  }
}

// ======================= preempt and preempt_delay =======================

TEST(InstancePreempt, NopreemptAcceptsLowerPriorityForever) {
  InstanceConfig config = v2_config(200);
  config.preempt = false;
  Instance instance = started(config);
  for (Time t = kT0 + 1s; t <= kT0 + 2000s; t += 1s) {
    const auto actions = instance.on_advert(t, advert_from(kPeer, 1));
    ASSERT_EQ(describe(actions), expected({ArmTimer{t + instance.master_down_interval()}}));
  }
  EXPECT_EQ(instance.state(), State::Backup);
  EXPECT_FALSE(instance.preempt_active(kT0 + 2000s));
}

TEST(InstancePreempt, PreemptDelayAcceptsLowerPriorityOnlyDuringTheDelay) {
  InstanceConfig config = v2_config(200);
  config.preempt_delay = 5s;
  Instance instance = started(config);
  const Time mdi = instance.master_down_interval();
  struct Step {
    Time at;
    bool accepted;
  };
  const Step steps[] = {
      {kT0, true}, {kT0 + 1s, true}, {kT0 + 5s - 1ns, true}, {kT0 + 5s, false}, {kT0 + 6s, false},
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(describe(step.at));
    EXPECT_EQ(instance.preempt_active(step.at), !step.accepted);
    const Time before = instance.deadline();
    const auto actions = instance.on_advert(step.at, advert_from(kPeer, 100));
    if (step.accepted) {
      EXPECT_EQ(describe(actions), expected({ArmTimer{step.at + mdi}}));
    } else {
      EXPECT_EQ(describe(actions),
                expected({Note{NoteKind::LowerPriorityDiscarded, ip(kPeer), 100}}));
      EXPECT_EQ(instance.deadline(), before);
    }
  }
  // The last accepted advert came at T0 + 5 s - 1 ns: the backup preempts one MDI later.
  EXPECT_EQ(instance.deadline(), kT0 + 5s - 1ns + mdi);
  instance.on_timer(instance.deadline());
  EXPECT_EQ(instance.state(), State::Master);
}

TEST(InstancePreempt, PreemptDelayStartsAgainWhenLeavingFault) {
  InstanceConfig config = v2_config(200);
  config.preempt_delay = 5s;
  Instance instance = started(config);
  instance.raise_fault(kT0 + 10s, FaultReason::InterfaceDown);
  instance.clear_fault(kT0 + 20s, FaultReason::InterfaceDown);
  ASSERT_EQ(instance.state(), State::Backup);
  const Time mdi = instance.master_down_interval();
  EXPECT_EQ(describe(instance.on_advert(kT0 + 21s, advert_from(kPeer, 100))),
            expected({ArmTimer{kT0 + 21s + mdi}}));
  EXPECT_EQ(describe(instance.on_advert(kT0 + 25s, advert_from(kPeer, 100))),
            expected({Note{NoteKind::LowerPriorityDiscarded, ip(kPeer), 100}}));
}

TEST(InstancePreempt, PreemptDelayStartsAgainOnRestart) {
  InstanceConfig config = v2_config(200);
  config.preempt_delay = 5s;
  Instance instance = started(config);
  instance.stop(kT0 + 10s);
  instance.start(kT0 + 20s);
  EXPECT_FALSE(instance.preempt_active(kT0 + 24s));
  EXPECT_TRUE(instance.preempt_active(kT0 + 25s));
}

TEST(InstancePreempt, PreemptDelayDoesNotDelayHigherPriorityOrMasterBehaviour) {
  InstanceConfig config = v2_config(100);
  config.preempt_delay = 100s;
  Instance instance = started(config);
  EXPECT_EQ(describe(instance.on_advert(kT0 + 1s, advert_from(kPeer, 150))),
            expected({ArmTimer{kT0 + 1s + 3'609'375us}}));
  instance.on_timer(instance.deadline());
  ASSERT_EQ(instance.state(), State::Master);
  const Time now = instance.deadline() - 500ms;
  EXPECT_EQ(describe(instance.on_advert(now, advert_from(kPeer, 50))),
            expected({Note{NoteKind::ForcingNewElection, ip(kPeer), 50}, SendAdvert{100},
                      ArmTimer{now + 1s}}));
}

// ======================= effective priority =======================

TEST(InstancePriority, SetPriorityChangesAdvertsAndSkew) {
  Instance instance(v2_config(100));
  const Time since = make_master(instance);
  instance.set_priority(80);
  EXPECT_EQ(instance.priority(), 80);
  EXPECT_EQ(instance.config().priority, 100);
  EXPECT_EQ(instance.skew_time(), Time(176 * 1'000'000'000LL / 256));
  EXPECT_EQ(describe(instance.on_timer(since + 1s)),
            expected({SendAdvert{80}, ArmTimer{since + 2s}}));
  // Its lowered priority is what it compares against now.
  EXPECT_EQ(describe(instance.on_advert(since + 1500ms, advert_from(kLowPeer, 90))),
            expected({Note{NoteKind::HigherPriorityHeard, ip(kLowPeer), 90}, RemoveVips{},
                      StateChange{State::Master, State::Backup, StateReason::HigherPriority},
                      ArmTimer{since + 1500ms + 3'687'500us}}));
}

TEST(InstancePriority, RaisedPriorityMakesABackupPreemptTheOldMaster) {
  Instance instance = started(v2_config(100));
  instance.on_advert(kT0 + 1s, advert_from(kPeer, 120));
  EXPECT_EQ(instance.state(), State::Backup);
  instance.set_priority(130);
  EXPECT_EQ(describe(instance.on_advert(kT0 + 2s, advert_from(kPeer, 120))),
            expected({Note{NoteKind::LowerPriorityDiscarded, ip(kPeer), 120}}));
  const auto actions = instance.on_timer(kT0 + 1s + 3'609'375us);
  EXPECT_EQ(describe(actions),
            expected({Note{NoteKind::ReceiveTimeout, IpAddress{}, 130},
                      StateChange{State::Backup, State::Master, StateReason::MasterDown},
                      SendAdvert{130}, AddVips{}, Announce{}, ArmTimer{kT0 + 2s + 3'609'375us}}));
}

TEST(InstancePriority, PriorityZeroIsNeverAnEffectivePriority) {
  Instance instance = started(v2_config(100));
  instance.set_priority(0);
  EXPECT_EQ(instance.priority(), 100);
}

TEST(InstancePriority, EffectivePriorityFeedsSetPriority) {
  Instance instance = started(v2_config(100));
  instance.set_priority(effective_priority(instance.config().priority, -150));
  EXPECT_EQ(instance.priority(), 1);
  instance.set_priority(effective_priority(instance.config().priority, 500));
  EXPECT_EQ(instance.priority(), 254);
}

// ======================= validate =======================

TEST(InstanceValidate, ValidConfigsHaveNoError) {
  std::vector<InstanceConfig> configs = {
      InstanceConfig{.primary_address = ip(kLocal)},
      v2_config(1),
      v2_config(254),
      v2_config(255),
      v3_config(100, 10ms),
      v3_config(100, 20ms),
      v3_config(100, 1s),
      v3_config(100, 40'950ms),
      v3_config(100, 1s, "fd00:198:18::1"),
      v3_config(100, 10ms, "fe80::1"),
  };
  InstanceConfig v2_max = v2_config(100);
  v2_max.advert_interval = 255s;
  configs.push_back(v2_max);
  InstanceConfig vrid_max = v2_config(100);
  vrid_max.vrid = 255;
  configs.push_back(vrid_max);
  InstanceConfig longest_delay = v2_config(100);
  longest_delay.preempt_delay = 1000s;
  configs.push_back(longest_delay);
  for (const InstanceConfig& config : configs) {
    EXPECT_EQ(validate(config).message(), "")
        << "v" << static_cast<int>(config.version) << " interval " << config.advert_interval.count()
        << " ns";
  }
}

TEST(InstanceValidate, EachInvalidConfigNamesItsBadValueOnOneLine) {
  struct Case {
    const char* what;
    InstanceConfig config;
    std::vector<std::string> must_mention;
  };
  auto with = [](InstanceConfig config, auto change) {
    change(config);
    return config;
  };
  const Case cases[] = {
      {"vrid 0", with(v2_config(100), [](InstanceConfig& c) { c.vrid = 0; }), {"VRID", "0"}},
      {"priority 0", v2_config(0), {"priority", "0"}},
      {"v2 1.5 s",
       with(v2_config(100), [](InstanceConfig& c) { c.advert_interval = 1500ms; }),
       {"1.5 s", "VRRPv2"}},
      {"v2 0 s",
       with(v2_config(100), [](InstanceConfig& c) { c.advert_interval = 0s; }),
       {"0 s", "VRRPv2"}},
      {"v2 256 s",
       with(v2_config(100), [](InstanceConfig& c) { c.advert_interval = 256s; }),
       {"256 s", "VRRPv2"}},
      {"v2 100 ms",
       with(v2_config(100), [](InstanceConfig& c) { c.advert_interval = 100ms; }),
       {"0.1 s", "VRRPv2"}},
      {"v3 5 ms", v3_config(100, 5ms), {"0.005 s", "VRRPv3"}},
      {"v3 0", v3_config(100, 0ms), {"0 s", "VRRPv3"}},
      {"v3 negative", v3_config(100, -1s), {"-1 s", "VRRPv3"}},
      {"v3 40.96 s", v3_config(100, 40'960ms), {"40.96 s", "VRRPv3"}},
      {"v3 15 ms", v3_config(100, 15ms), {"0.015 s", "VRRPv3"}},
      {"v3 10.5 ms", v3_config(100, 10'500us), {"0.0105 s", "VRRPv3"}},
      {"v3 1 s + 1 ns", v3_config(100, 1s + 1ns), {"1.000000001 s", "VRRPv3"}},
      {"v2 with IPv6",
       with(v2_config(100), [](InstanceConfig& c) { c.primary_address = ip("fd00:198:18::1"); }),
       {"VRRPv2", "fd00:198:18::1"}},
      {"preempt_delay 1001 s",
       with(v2_config(100), [](InstanceConfig& c) { c.preempt_delay = 1001s; }),
       {"preempt_delay", "1001 s"}},
      {"preempt_delay 1000.5 s",
       with(v2_config(100), [](InstanceConfig& c) { c.preempt_delay = 1000500ms; }),
       {"preempt_delay", "1000.5 s"}},
      {"preempt_delay -1 s",
       with(v2_config(100), [](InstanceConfig& c) { c.preempt_delay = -1s; }),
       {"preempt_delay", "-1 s"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Status status = validate(c.config);
    ASSERT_FALSE(status.ok());
    const std::string& error = status.message();
    ASSERT_FALSE(error.empty());
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    for (const std::string& word : c.must_mention) {
      EXPECT_NE(error.find(word), std::string::npos) << "'" << error << "' lacks '" << word << "'";
    }
  }
}

// ======================= two instances talking =======================

// Two instances on one link with zero latency: each SendAdvert is handed to the other at once.
class TwoRouters {
 public:
  TwoRouters(const InstanceConfig& a, const InstanceConfig& b)
      : nodes_{Node{Instance(a), false, {}}, Node{Instance(b), false, {}}} {}

  Instance& a() { return nodes_[0].instance; }
  Instance& b() { return nodes_[1].instance; }
  void set_connected(bool connected) { connected_ = connected; }

  void start_a(Time at) { handle(0, at, a().start(at)); }
  void start_b(Time at) { handle(1, at, b().start(at)); }
  void stop_a(Time at) { handle(0, at, a().stop(at)); }

  // Fires timers in deadline order up to `until`.
  void advance_to(Time until) {
    for (int step = 0; step < 100'000; ++step) {
      const int first = a().deadline() <= b().deadline() ? 0 : 1;
      const Time due = nodes_[first].instance.deadline();
      if (due > until) break;
      handle(first, due, nodes_[first].instance.on_timer(due));
    }
  }

  // When each node last entered `state`; kNever if it never did.
  Time entered(int node, State state) const {
    Time when = kNever;
    for (const auto& [at, change] : nodes_[node].changes) {
      if (change.to == state) when = at;
    }
    return when;
  }
  int state_changes(int node) const { return static_cast<int>(nodes_[node].changes.size()); }
  int vip_holders() const {
    return (nodes_[0].holds_vips ? 1 : 0) + (nodes_[1].holds_vips ? 1 : 0);
  }
  bool holds_vips(int node) const { return nodes_[node].holds_vips; }

 private:
  struct Node {
    Instance instance;
    bool holds_vips = false;
    std::vector<std::pair<Time, StateChange>> changes;
  };

  // Applies one node's actions in order; its adverts reach the peer at once.
  void handle(int node, Time at, const ActionList& actions, int depth = 0) {
    ASSERT_LT(depth, 8) << "adverts bounce between the routers without end";
    for (const Action& action : actions) {
      if (const auto* change = std::get_if<StateChange>(&action)) {
        nodes_[node].changes.emplace_back(at, *change);
      } else if (std::holds_alternative<AddVips>(action)) {
        nodes_[node].holds_vips = true;
      } else if (std::holds_alternative<RemoveVips>(action)) {
        nodes_[node].holds_vips = false;
      } else if (const auto* send = std::get_if<SendAdvert>(&action); send && connected_) {
        const Instance& sender = nodes_[node].instance;
        const RxAdvert advert{sender.config().primary_address, send->priority,
                              to_centiseconds(sender.config().advert_interval)};
        const int peer = 1 - node;
        handle(peer, at, nodes_[peer].instance.on_advert(at, advert), depth + 1);
      }
    }
  }

  std::array<Node, 2> nodes_;
  bool connected_ = true;
};

constexpr int kA = 0;
constexpr int kB = 1;
// v2, 1 s: Master_Down_Interval of priority 150 is 3.4140625 s, of priority 100 3.609375 s.
constexpr Time kMdi150 = 3'414'062'500ns;
constexpr Time kSkew100 = 609'375'000ns;

TEST(InstancePair, ElectionFailoverOnStopAndPreemption) {
  TwoRouters link(v2_config(150, "198.18.0.1"), v2_config(100, "198.18.0.2"));
  link.start_a(kT0);
  link.start_b(kT0);

  // Election: the higher priority's down timer fires first; its advert holds the other back.
  link.advance_to(kT0 + 30s);
  EXPECT_EQ(link.entered(kA, State::Master), kT0 + kMdi150);
  EXPECT_EQ(link.a().state(), State::Master);
  EXPECT_EQ(link.b().state(), State::Backup);
  EXPECT_EQ(link.state_changes(kB), 1);  // only INIT -> BACKUP
  EXPECT_EQ(link.b().master_address(), ip("198.18.0.1"));
  EXPECT_EQ(link.vip_holders(), 1);
  EXPECT_TRUE(link.holds_vips(kA));

  // Failover: A stops and sends priority 0; B takes over one Skew_Time later, not after a full
  // Master_Down_Interval.
  const Time stopped_at = kT0 + 30s + 250ms;
  link.stop_a(stopped_at);
  EXPECT_EQ(link.vip_holders(), 0);
  link.advance_to(kT0 + 40s);
  EXPECT_EQ(link.entered(kB, State::Master), stopped_at + kSkew100);
  EXPECT_EQ(link.b().state(), State::Master);
  EXPECT_TRUE(link.holds_vips(kB));

  // Preemption: A comes back, discards B's lower adverts and takes over when its timer fires;
  // B yields on hearing the higher priority.
  const Time restarted_at = kT0 + 40s + 100ms;
  link.start_a(restarted_at);
  link.advance_to(kT0 + 60s);
  EXPECT_EQ(link.entered(kA, State::Master), restarted_at + kMdi150);
  EXPECT_EQ(link.entered(kB, State::Backup), restarted_at + kMdi150);
  EXPECT_EQ(link.a().state(), State::Master);
  EXPECT_EQ(link.b().state(), State::Backup);
  EXPECT_EQ(link.vip_holders(), 1);
  EXPECT_TRUE(link.holds_vips(kA));
}

TEST(InstancePair, NopreemptBackupKeepsTheLowerPriorityMaster) {
  InstanceConfig high = v2_config(150, "198.18.0.1");
  high.preempt = false;
  TwoRouters link(high, v2_config(100, "198.18.0.2"));
  link.start_b(kT0);
  link.advance_to(kT0 + 10s);
  ASSERT_EQ(link.b().state(), State::Master);
  link.start_a(kT0 + 10s);
  link.advance_to(kT0 + 100s);
  EXPECT_EQ(link.a().state(), State::Backup);
  EXPECT_EQ(link.b().state(), State::Master);
}

TEST(InstancePair, SplitBrainHealsToTheHigherAddress) {
  TwoRouters link(v3_config(100, 100ms, "198.18.0.10"), v3_config(100, 100ms, "198.18.0.200"));
  link.set_connected(false);
  link.start_a(kT0);
  link.start_b(kT0);
  link.advance_to(kT0 + 1s);
  ASSERT_EQ(link.a().state(), State::Master);
  ASSERT_EQ(link.b().state(), State::Master);
  EXPECT_EQ(link.vip_holders(), 2);

  link.set_connected(true);
  link.advance_to(kT0 + 3s);
  EXPECT_EQ(link.a().state(), State::Backup);
  EXPECT_EQ(link.b().state(), State::Master);
  EXPECT_EQ(link.vip_holders(), 1);
  EXPECT_TRUE(link.holds_vips(kB));
}

}  // namespace
}  // namespace vipd::core
