// Reload in the shell: read the settings again (the config file, the environment the daemon was
// started with, the same flags), validate them with check-config's code, hand the plan to the node
// (node::Reload decides what changes) and make room for what it decided (PlanReplaced): timer
// slots, the kernel's per-VRID configuration, the receive path's expectations, the notifier. The
// accepted sources follow the node's peer table through PeersChanged, as at any other time.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "app/daemon.h"
#include "app/resolve.h"
#include "log/log.h"

namespace vipd::app {
namespace {

std::string reload_answer(bool ok, const std::string& message,
                          const std::vector<std::string>& errors) {
  nlohmann::json answer = {{"ok", ok}, {"message", message}, {"errors", errors}};
  return answer.dump() + "\n";
}

}  // namespace

std::string Daemon::reload(std::string_view origin) {
  spdlog::info("Reloading the configuration ({})", origin);
  RunOptionsResult parsed = reparse_run_options(argv_);
  std::vector<std::string> errors = std::move(parsed.errors);
  config::PlanResult planned;
  if (errors.empty()) {
    // VIPs we hold are not the interface's primary address, even if the new plan drops them.
    std::vector<core::IpAddress> held;
    for (std::size_t i = 0; i < node_->size(); ++i) {
      for (const config::Vip& vip : node_->instance(i).plan.vips) held.push_back(vip.address);
    }
    planned = resolve(parsed.options, held);
    errors = planned.errors;
  }
  if (!errors.empty()) {
    for (const std::string& error : errors) {
      log::write(log::Level::error, "reload_error", {}, "reload: " + error);
    }
    const std::string message = "Reload failed (" + std::to_string(errors.size()) +
                                " error(s)): keeping the running configuration";
    log::write(log::Level::error, "reload_failed", {}, message);
    return reload_answer(false, message, errors);
  }
  reload_applied_ = false;
  reload_note_.clear();
  dispatch(node::Reload{std::move(planned.plan)});
  if (!reload_applied_) return reload_answer(false, reload_note_, {reload_note_});
  forget_unconfigured_vips();
  return reload_answer(true, reload_note_, {});
}

std::array<std::optional<core::Expectation>, 256> Daemon::expectations() const {
  std::array<std::optional<core::Expectation>, 256> expected;
  for (const config::InstancePlan* instance : active_instances()) {
    expected[instance->core.vrid] = expectation_for(*instance);
  }
  return expected;
}

// Before the node exists (the receive path opens first) the plan's instances; after, the node's,
// without those a reload retired.
std::vector<const config::InstancePlan*> Daemon::active_instances() const {
  std::vector<const config::InstancePlan*> active;
  if (!node_) {
    for (const config::InstancePlan& instance : plan_.instances) active.push_back(&instance);
    return active;
  }
  for (std::size_t i = 0; i < node_->size(); ++i) {
    if (node_->active(i)) active.push_back(&node_->instance(i).plan);
  }
  return active;
}

core::Expectation Daemon::expectation_for(const config::InstancePlan& instance) const {
  core::Expectation expectation;
  expectation.version = instance.core.version;
  expectation.family = plan_.source.family();
  expectation.auth_type = instance.auth_type;
  expectation.auth_key = instance.auth_key;
  if (instance.core.version == core::VrrpVersion::V2) {
    expectation.v2_interval_s = static_cast<std::uint16_t>(
        std::chrono::duration_cast<std::chrono::seconds>(instance.core.advert_interval).count());
  }
  return expectation;
}

bpf::VridConfig Daemon::vrid_config(const config::InstancePlan& instance) const {
  const core::Expectation expectation = expectation_for(instance);
  bpf::VridConfig vrid;
  vrid.vrid = instance.core.vrid;
  vrid.version = expectation.version;
  vrid.family = expectation.family;
  vrid.auth_type = expectation.auth_type;
  vrid.auth_key = expectation.auth_key;
  vrid.v2_interval_s = static_cast<std::uint8_t>(expectation.v2_interval_s);
  return vrid;
}

core::Status Daemon::configure_vrid(std::size_t index) {
  const node::InstanceState& instance = node_->instance(index);
  bpf::VridConfig vrid = vrid_config(instance.plan);
  // A new address owner is MASTER already (the node started it before this runs).
  vrid.deliver_all = instance.core.state() == core::State::Master;
  return dataplane_->set_vrid_config(vrid);
}

void Daemon::on_plan_replaced(const std::vector<std::size_t>& created) {
  reload_applied_ = true;
  const std::string previous_notify = plan_.notify_script;
  plan_ = node_->plan();
  while (timer_ids_.size() < node_->size() * node::kTimerKinds) {
    timer_ids_.push_back(loop_.allocate_timer_id());
  }
  counters_.resize(node_->size());
  for (const std::size_t index : created) counters_[index] = {};  // a reused slot starts at zero
  record_configured_vips();
  receiver_->set_expectations(expectations());
  if (dataplane_) {
    std::vector<std::uint8_t> active;
    core::Time longest{0};
    for (std::size_t i = 0; i < node_->size(); ++i) {
      if (!node_->active(i)) continue;
      active.push_back(node_->instance(i).plan.core.vrid);
      longest = std::max(longest, node_->instance(i).plan.core.advert_interval);
      if (std::find(created.begin(), created.end(), i) == created.end()) continue;
      if (core::Status status = configure_vrid(i); !status) spdlog::error("{}", status.message());
    }
    for (const std::uint8_t vrid : kernel_vrids_) {
      if (std::find(active.begin(), active.end(), vrid) != active.end()) continue;
      if (core::Status status = dataplane_->clear_vrid_config(vrid); !status) {
        spdlog::error("{}", status.message());
      }
    }
    kernel_vrids_ = active;
    if (core::Status status = dataplane_->set_global_config({2 * longest, plan_.xdp_drop_invalid});
        !status) {
      spdlog::error("{}", status.message());
    }
  }
  if (plan_.notify_script != previous_notify) {
    if (notifier_) notifier_->flush_detached();
    notifier_.reset();
    if (!plan_.notify_script.empty()) {
      notifier_ =
          std::make_unique<health::Notifier>(loop_, std::vector<std::string>{plan_.notify_script});
    }
  }
  update_watched_vips();
  snapshot_due_ = true;
}

// A VIP a reload dropped while a backup held nothing was never added: nothing will remove it, so
// nothing forgets it either. Held ones are forgotten when removed (remove_addresses).
void Daemon::forget_unconfigured_vips() {
  const std::vector<net::AddressEntry> present = netlink_.addresses(plan_.ifindex);
  std::vector<config::Vip> stale;
  for (const config::Vip& vip : run_state_.state().vips) {
    if (configured(vip)) continue;
    if (std::any_of(present.begin(), present.end(),
                    [&](const net::AddressEntry& entry) { return entry.address == vip.address; }))
      continue;
    stale.push_back(vip);
  }
  run_state_.remove_vips(stale);
}

void Daemon::record_attachments() {
  RunState& state = run_state_.state();
  state.firewall_undo = firewall_.undo();
  if (dataplane_) {
    const bpf::AttachState& attached = dataplane_->state();
    state.xdp_prog_id = attached.xdp_prog_id;
    state.pin_dir = attached.pin_dir;
    state.tc = attached.tc_filters;
  }
  run_state_.save();
}

}  // namespace vipd::app
