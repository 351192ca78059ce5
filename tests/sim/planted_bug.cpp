#include "planted_bug.h"

#include <array>
#include <variant>

namespace vipd::sim {
namespace {

struct BugName {
  PlantedBug bug;
  std::string_view name;
};

constexpr std::array<BugName, 9> kBugNames = {{
    {PlantedBug::None, "none"},
    {PlantedBug::IgnorePriorityZero, "ignore-priority-zero"},
    {PlantedBug::BackupIgnoresMasterDown, "backup-ignores-master-down"},
    {PlantedBug::MasterIgnoresHigherPriority, "master-ignores-higher-priority"},
    {PlantedBug::BackupAcceptsLowerPriority, "backup-accepts-lower-priority"},
    {PlantedBug::IgnoreNopreempt, "ignore-nopreempt"},
    {PlantedBug::NeverRemoveVips, "never-remove-vips"},
    {PlantedBug::TimerSkipsKernelRecord, "timer-skips-kernel-record"},
    {PlantedBug::EncodeWrongVip, "encode-wrong-vip"},
}};

constexpr std::array<PlantedBug, 8> kPlantedBugs = {PlantedBug::IgnorePriorityZero,
                                                    PlantedBug::BackupIgnoresMasterDown,
                                                    PlantedBug::MasterIgnoresHigherPriority,
                                                    PlantedBug::BackupAcceptsLowerPriority,
                                                    PlantedBug::IgnoreNopreempt,
                                                    PlantedBug::NeverRemoveVips,
                                                    PlantedBug::TimerSkipsKernelRecord,
                                                    PlantedBug::EncodeWrongVip};

core::InstanceConfig mutate_config(core::InstanceConfig config, PlantedBug bug) {
  if (bug == PlantedBug::IgnoreNopreempt) config.preempt = true;
  return config;
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

MutatedInstance::MutatedInstance(const core::InstanceConfig& config, PlantedBug bug)
    : instance_(mutate_config(config, bug)), bug_(bug) {}

bool MutatedInstance::beaten_by(const core::RxAdvert& advert) const {
  if (advert.priority != instance_.priority()) return advert.priority > instance_.priority();
  return advert.source > instance_.config().primary_address;
}

core::ActionList MutatedInstance::on_advert(core::Time now, const core::RxAdvert& advert) {
  const core::State state = instance_.state();
  if (bug_ == PlantedBug::IgnorePriorityZero && advert.priority == core::kStopPriority) return {};
  if (bug_ == PlantedBug::MasterIgnoresHigherPriority && state == core::State::Master &&
      advert.priority != core::kStopPriority && beaten_by(advert)) {
    return {};
  }
  if (bug_ == PlantedBug::BackupAcceptsLowerPriority && state == core::State::Backup &&
      advert.priority != core::kStopPriority && advert.priority < instance_.priority()) {
    core::RxAdvert raised = advert;
    raised.priority = instance_.priority();  // the core then takes it as a master to follow
    return filter(instance_.on_advert(now, raised));
  }
  return filter(instance_.on_advert(now, advert));
}

core::ActionList MutatedInstance::on_timer(core::Time now) {
  if (bug_ == PlantedBug::BackupIgnoresMasterDown && instance_.state() == core::State::Backup &&
      instance_.master_address().has_value() && now >= instance_.deadline()) {
    return {};
  }
  return filter(instance_.on_timer(now));
}

core::ActionList MutatedInstance::filter(const core::ActionList& actions) const {
  if (bug_ != PlantedBug::NeverRemoveVips) return actions;
  core::ActionList kept;
  for (const core::Action& action : actions) {
    if (!std::holds_alternative<core::RemoveVips>(action)) kept.push(action);
  }
  return kept;
}

}  // namespace vipd::sim
