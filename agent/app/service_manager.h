// systemd's service notification protocol (sd_notify(3), libsystemd), for `Type=notify` units:
// READY=1 once the receive path is open and the instances started, STATUS= with a one-line
// summary ("2 MASTER, 1 BACKUP, dataplane xdp") whenever it changes, WATCHDOG=1 from the event
// loop when the unit sets WatchdogSec=, STOPPING=1 at shutdown. Outside systemd (no
// NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vipd/core/instance.h"
#include "vipd/core/timing.h"

namespace vipd::app {

// "2 MASTER, 1 BACKUP, dataplane xdp": the count of each state present, in keepalived's order.
std::string status_summary(const std::vector<core::State>& states, const std::string& dataplane);

class ServiceManager {
 public:
  ServiceManager();

  bool under_systemd() const { return enabled_; }
  void ready(const std::string& status);
  // Sends STATUS= only when it differs from the last one sent.
  void status(const std::string& status);
  void stopping();
  // How often to send WATCHDOG=1 (half of WatchdogSec=), if systemd asks for it.
  std::optional<core::Time> watchdog_period() const { return watchdog_period_; }
  void watchdog();

 private:
  void notify(const std::string& text);

  bool enabled_ = false;
  std::optional<core::Time> watchdog_period_;
  std::string last_status_;
};

}  // namespace vipd::app
