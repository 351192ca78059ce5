// `vipd status --ready` / `--live`: the probes' verdicts on status snapshots as the daemon writes
// them (see Daemon::status_json), and on missing or broken answers.
#include "app/status_view.h"

#include <gtest/gtest.h>

namespace vipd::app {
namespace {

using std::chrono::milliseconds;

constexpr const char* kSocket = "@vipd/eth0";

std::string snapshot(const std::string& receive_path, const std::string& state1,
                     const std::string& state2) {
  return R"({"interface": "eth0", "source": "198.18.0.11", "transport": "multicast",
             "receive_path": ")" +
         receive_path + R"(", "uptime_ms": 4200, "loop_wakeups": 57,
             "instances": [
               {"name": "web_VIP_1", "vrid": 51, "state": ")" +
         state1 + R"(", "priority": 150},
               {"name": "web_VIP_2", "vrid": 52, "state": ")" +
         state2 + R"(", "priority": 150}]})";
}

TEST(Readiness, EveryInstanceSettledAndXdpOpenIsReady) {
  const ProbeVerdict verdict = readiness(kSocket, snapshot("xdp", "MASTER", "BACKUP"));
  EXPECT_TRUE(verdict.ok) << verdict.line;
  EXPECT_EQ(verdict.line, "ready: eth0 (xdp): web_VIP_1 MASTER, web_VIP_2 BACKUP");
}

TEST(Readiness, RawSocketFallbackIsReadyToo) {
  EXPECT_TRUE(readiness(kSocket, snapshot("raw-socket", "BACKUP", "BACKUP")).ok);
}

TEST(Readiness, InitFaultAndStopAreNotReadyAndNamed) {
  for (const char* state : {"INIT", "FAULT", "STOP"}) {
    const ProbeVerdict verdict = readiness(kSocket, snapshot("xdp", "MASTER", state));
    EXPECT_FALSE(verdict.ok) << state;
    EXPECT_EQ(verdict.line, std::string("not ready: eth0: web_VIP_2 is ") + state);
  }
  const ProbeVerdict both = readiness(kSocket, snapshot("xdp", "FAULT", "INIT"));
  EXPECT_EQ(both.line, "not ready: eth0: web_VIP_1 is FAULT, web_VIP_2 is INIT");
}

TEST(Readiness, ReceivePathNotOpenIsNotReady) {
  const ProbeVerdict verdict = readiness(kSocket, snapshot("", "BACKUP", "BACKUP"));
  EXPECT_FALSE(verdict.ok);
  EXPECT_EQ(verdict.line, "not ready: eth0: the receive path is not open yet");
}

TEST(Readiness, NoInstancesIsNotReady) {
  const ProbeVerdict verdict =
      readiness(kSocket, R"({"interface": "eth0", "receive_path": "xdp", "instances": []})");
  EXPECT_FALSE(verdict.ok);
  EXPECT_EQ(verdict.line, "not ready: eth0: no instances");
}

TEST(Readiness, NoOrBrokenAnswerIsNotReady) {
  EXPECT_EQ(readiness(kSocket, "", "cannot connect to @vipd/eth0: Connection refused").line,
            "not ready: cannot connect to @vipd/eth0: Connection refused");
  EXPECT_EQ(readiness(kSocket, "").line, "not ready: no answer from @vipd/eth0");
  EXPECT_FALSE(readiness(kSocket, R"({"interface": "eth0", "receive_path": "xdp")").ok);
  EXPECT_FALSE(readiness(kSocket, R"({"receive_path": "xdp"})").ok);  // no instance list
  EXPECT_FALSE(readiness(kSocket, "[1, 2]").ok);
}

TEST(Liveness, AnyCompleteSnapshotIsLiveWhateverTheStates) {
  const ProbeVerdict verdict =
      liveness(kSocket, snapshot("raw-socket", "FAULT", "INIT"), "", milliseconds(3));
  EXPECT_TRUE(verdict.ok);
  EXPECT_EQ(verdict.line, "live: eth0 answered (3 ms)");
}

TEST(Liveness, NoAnswerInTimeIsNotLive) {
  const ProbeVerdict verdict =
      liveness(kSocket, "", "no answer from @vipd/eth0 within 2000 ms", milliseconds(2001));
  EXPECT_FALSE(verdict.ok);
  EXPECT_EQ(verdict.line, "not live: no answer from @vipd/eth0 within 2000 ms (2001 ms)");
}

TEST(Liveness, GarbageIsNotLive) {
  EXPECT_FALSE(liveness(kSocket, "{\"interface\": \"eth0\"", "", milliseconds(1)).ok);
}

}  // namespace
}  // namespace vipd::app
