#include "app/service_manager.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "vipd/core/result.h"

namespace vipd::app {

std::string status_summary(const std::vector<core::State>& states, const std::string& dataplane) {
  constexpr std::array kOrder = {core::State::Master, core::State::Backup, core::State::Fault,
                                 core::State::Initialize, core::State::Stopped};
  std::string text;
  for (const core::State state : kOrder) {
    const auto count = std::count(states.begin(), states.end(), state);
    if (count == 0) continue;
    if (!text.empty()) text += ", ";
    text += std::to_string(count) + " " + std::string(core::to_string(state));
  }
  if (!text.empty()) text += ", ";
  return text + "dataplane " + dataplane;
}

ServiceManager::ServiceManager() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // NOTIFY_SOCKET stays in the environment for every later sd_notify(); the check and notify
  // scripts inherit it, but the unit's NotifyAccess=main makes systemd ignore them.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_period_ = std::chrono::microseconds(usec / 2);
  }
}

void ServiceManager::notify(const std::string& text) {
  if (!enabled_) return;
  if (const int error = sd_notify(0, text.c_str()); error < 0) {
    spdlog::debug("sd_notify failed: {}", core::errno_text(-error));
  }
}

void ServiceManager::ready(const std::string& status) {
  last_status_ = status;
  notify("READY=1\nSTATUS=" + status);
}

void ServiceManager::status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  notify("STATUS=" + status);
}

void ServiceManager::stopping() {
  notify("STOPPING=1\nSTATUS=stopping: priority 0 sent, removing VIPs");
}

void ServiceManager::watchdog() {
  notify("WATCHDOG=1");
}

}  // namespace vipd::app
