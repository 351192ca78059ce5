// systemd notification: the one-line STATUS= summary, and that outside systemd nothing is sent.
#include "app/service_manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "app/control.h"

namespace vipd::app {
namespace {

using core::State;

TEST(ServiceManager, StatusSummaryCountsStatesInKeepalivedOrder) {
  EXPECT_EQ(status_summary({State::Backup, State::Master, State::Master}, "xdp"),
            "2 MASTER, 1 BACKUP, dataplane xdp");
  EXPECT_EQ(status_summary({State::Fault, State::Backup}, "raw-socket"),
            "1 BACKUP, 1 FAULT, dataplane raw-socket");
  EXPECT_EQ(status_summary({}, "xdp"), "dataplane xdp");
}

TEST(ServiceManager, OutsideSystemdEverythingIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  ServiceManager manager;
  EXPECT_FALSE(manager.under_systemd());
  EXPECT_FALSE(manager.watchdog_period().has_value());
  manager.ready("1 MASTER, dataplane xdp");
  manager.status("1 BACKUP, dataplane xdp");
  manager.watchdog();
  manager.stopping();
}

TEST(ReloadClient, VerdictLines) {
  const ReloadVerdict ok = reload_verdict(
      "@vipd/eth0",
      R"j({"ok":true,"message":"Reloaded the configuration: 1 instance(s) unchanged","errors":[]})j");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.text, "@vipd/eth0: Reloaded the configuration: 1 instance(s) unchanged");
  const ReloadVerdict failed = reload_verdict(
      "@vipd/eth0",
      R"j({"ok":false,"message":"Reload failed (2 error(s))","errors":["invalid VIP 'x'","bad priority"]})j");
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.text,
            "@vipd/eth0: Reload failed (2 error(s))\n  invalid VIP 'x'\n  bad priority");
  // An older daemon answers every connection with its status JSON.
  EXPECT_FALSE(reload_verdict("@vipd/eth0", R"j({"interface":"eth0","instances":[]})j").ok);
}

}  // namespace
}  // namespace vipd::app
