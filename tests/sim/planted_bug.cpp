#include "planted_bug.h"

#include <array>
#include <variant>

namespace vipd::sim {
namespace {

struct BugName {
  PlantedBug bug;
  std::string_view name;
};

constexpr std::array<BugName, 11> kBugNames = {{
    {PlantedBug::None, "none"},
    {PlantedBug::IgnorePriorityZero, "ignore-priority-zero"},
    {PlantedBug::BackupIgnoresMasterDown, "backup-ignores-master-down"},
    {PlantedBug::MasterIgnoresHigherPriority, "master-ignores-higher-priority"},
    {PlantedBug::BackupAcceptsLowerPriority, "backup-accepts-lower-priority"},
    {PlantedBug::IgnoreNopreempt, "ignore-nopreempt"},
    {PlantedBug::NeverRemoveVips, "never-remove-vips"},
    {PlantedBug::TimerSkipsKernelRecord, "timer-skips-kernel-record"},
    {PlantedBug::EncodeWrongVip, "encode-wrong-vip"},
    {PlantedBug::LoserKeepsMaster, "loser-keeps-master"},
    {PlantedBug::DropLearnedPeers, "drop-learned-peers"},
}};

constexpr std::array<PlantedBug, 10> kPlantedBugs = {PlantedBug::IgnorePriorityZero,
                                                     PlantedBug::BackupIgnoresMasterDown,
                                                     PlantedBug::MasterIgnoresHigherPriority,
                                                     PlantedBug::BackupAcceptsLowerPriority,
                                                     PlantedBug::IgnoreNopreempt,
                                                     PlantedBug::NeverRemoveVips,
                                                     PlantedBug::TimerSkipsKernelRecord,
                                                     PlantedBug::EncodeWrongVip,
                                                     PlantedBug::LoserKeepsMaster,
                                                     PlantedBug::DropLearnedPeers};

bool beaten_by(const core::Instance& instance, const core::RxAdvert& advert) {
  if (advert.priority != instance.priority()) return advert.priority > instance.priority();
  return advert.source > instance.config().primary_address;
}

}  // namespace

std::string_view to_string(PlantedBug bug) {
  for (const BugName& entry : kBugNames) {
    if (entry.bug == bug) return entry.name;
  }
  return "?";
}

std::optional<PlantedBug> parse_planted_bug(std::string_view name) {
  for (const BugName& entry : kBugNames) {
    if (entry.name == name) return entry.bug;
  }
  return std::nullopt;
}

std::span<const PlantedBug> planted_bugs() {
  return kPlantedBugs;
}

core::InstanceConfig mutate_config(core::InstanceConfig config, PlantedBug bug) {
  if (bug == PlantedBug::IgnoreNopreempt) config.preempt = true;
  return config;
}

std::optional<node::HeardAdvert> mutate_advert(PlantedBug bug, const core::Instance& receiver,
                                               const node::HeardAdvert& heard) {
  const core::RxAdvert& advert = heard.advert;
  const core::State state = receiver.state();
  const bool stop = advert.priority == core::kStopPriority;
  if (bug == PlantedBug::IgnorePriorityZero && stop) return std::nullopt;
  if (bug == PlantedBug::MasterIgnoresHigherPriority && state == core::State::Master && !stop &&
      beaten_by(receiver, advert)) {
    return std::nullopt;
  }
  if (bug == PlantedBug::LoserKeepsMaster && heard.unicast && state == core::State::Master &&
      !stop && beaten_by(receiver, advert)) {
    return std::nullopt;
  }
  if (bug == PlantedBug::BackupAcceptsLowerPriority && state == core::State::Backup && !stop &&
      advert.priority < receiver.priority()) {
    node::HeardAdvert raised = heard;
    raised.advert.priority = receiver.priority();  // the core then takes it as a master to follow
    return raised;
  }
  return heard;
}

bool withholds_timer(PlantedBug bug, const core::Instance& instance, core::Time now) {
  return bug == PlantedBug::BackupIgnoresMasterDown && instance.state() == core::State::Backup &&
         instance.master_address().has_value() && now >= instance.deadline();
}

bool drops_command(PlantedBug bug, const node::Command& command) {
  return bug == PlantedBug::NeverRemoveVips && std::holds_alternative<node::RemoveVips>(command);
}

bool drops_learned_peers(PlantedBug bug) {
  return bug == PlantedBug::DropLearnedPeers;
}

}  // namespace vipd::sim
