"""vipd's ipfailover health check on the namespace lab: the application on the master fails.

Two vipd nodes (VRRPv3, 0.1 s adverts, n1 150 / n2 100, preempt), each running the lab's HTTP
server on the monitored port. The application's listener is killed on the master:
- fast fail on (the default): the client's next connection attempt is refused, the tc program sees
  the RST leave the monitored port and vipd checks at once, so the backup holds the VIP within
  Skew_Time + 100 ms of the first refused connection;
- fast fail off: the VIP still moves, but only at the next interval check;
- with --check-weight -60 the failing master drops to 90 and the backup (100) preempts it.
When the application comes back the master leaves FAULT (BACKUP first) and preempts back.

Timing: the client poller (one HTTP request to the VIP every 10 ms, each on a new connection)
stamps each request's send time with CLOCK_MONOTONIC; the backup's address watcher stamps the
RTM_NEWADDR of the VIP with the same clock.

ctest: integration.health_appfail.
"""

import re

import vipdlab
from conftest import FAILOVER_MARGIN_S, V3_XDP, Cluster, log_lines, record_timing, took_over

HIGH, LOW = 150, 100
CHECK_NAME = "chk_vipdtest"  # chk_<config name>; the lab's config name is vipdtest


class AppCluster:
    """A Cluster whose nodes run the HTTP server on `port` and a vipd monitoring it."""

    def __init__(self, cluster: Cluster, port: int = 80):
        self.cluster = cluster
        self.lab = cluster.lab
        self.port = port
        cluster.base_args = ()  # not the suite's `--monitor-port 0`: the check is under test
        self.httpd = {n.name: self.lab.start_http(n, port) for n in self.lab.nodes}

    def start(self, node: str, priority: int, *options: str):
        args = ("--monitor-port", str(self.port), *options)
        return self.cluster.start(node, priority, extra=args)

    def elect(self, *options: str, priorities=None) -> None:
        priorities = priorities or {"n1": HIGH, "n2": LOW}
        for node, priority in priorities.items():
            self.start(node, priority, *options)
        self.cluster.wait_holders(["n1"], timeout=self.cluster.election_timeout(), desc="n1 holds the VIP")
        self.cluster.wait_state("n2", "BACKUP", timeout=3)
        for node in priorities:
            proc = self.cluster.procs[node]
            assert log_lines(proc, re.escape(f"VRRP_Script({CHECK_NAME}) succeeded")), proc.log()[-2000:]

    def kill_app(self, node: str) -> int:
        """SIGKILL of the HTTP server; returns the monotonic time just before it."""
        t0 = vipdlab.now_ns()
        self.httpd[node].kill()
        self.httpd[node].wait(5)
        return t0

    def restart_app(self, node: str) -> int:
        t0 = vipdlab.now_ns()
        self.httpd[node] = self.lab.start_http(node, self.port)
        return t0

    def poll_vip(self):
        poller = self.lab.start_poller(self.cluster.vip, port=self.port, interval=0.01, timeout=0.3)
        poller.wait_answer_from("n1", since_ns=0, timeout=5)
        return poller


def lines_after(proc, pattern: str, after: str) -> list[str]:
    """Lines matching `pattern` that come after the last line matching `after`."""
    lines = proc.log().splitlines()
    start = max((i for i, line in enumerate(lines) if re.search(after, line)), default=-1)
    return [line for line in lines[start + 1:] if re.search(pattern, line)]


def test_fast_fail_moves_vip_within_skew_time_of_first_refusal(make_cluster):
    """Default options (fast fail on, 2 s interval): the VIP is on the backup within Skew_Time
    + 100 ms of the first refused client connection, far sooner than the next interval check;
    the app coming back puts n1 through BACKUP and it preempts the VIP back."""
    app = AppCluster(make_cluster(2, V3_XDP))
    cluster = app.cluster
    app.elect()
    poller = app.poll_vip()
    watcher = app.lab.watch_addresses("n2")
    n1 = cluster.procs["n1"]

    t_kill = app.kill_app("n1")
    refused = poller.wait_refused(t_kill, timeout=2)
    event = watcher.wait_event("add", cluster.vip, t_kill, timeout=5)
    took = (event.ts_ns - refused.sent_ns) / 1e9
    bound = cluster.skew_time(LOW) + FAILOVER_MARGIN_S
    record_timing("app killed, fast fail: first refusal -> VIP on n2", took, bound)
    assert took <= bound, f"{took * 1000:.1f} ms > {bound * 1000:.1f} ms; n1 log: {n1.log()[-3000:]}"
    assert log_lines(n1, rf"{CHECK_NAME}: port 80 refused a connection .*checking now"), n1.log()[-3000:]
    assert log_lines(n1, re.escape(f"VRRP_Script({CHECK_NAME}) failed")), n1.log()[-3000:]
    cluster.wait_state("n1", "FAULT", timeout=1)
    cluster.wait_holders(["n2"], timeout=1)
    cluster.wait_state("n2", "MASTER", timeout=1)
    answer = poller.wait_answer_from("n2", since_ns=event.ts_ns, timeout=3)
    assert answer.sent_ns - event.ts_ns < 1e9

    # The app comes back: n1 leaves FAULT through BACKUP, then preempts (150 > 100).
    t_back = app.restart_app("n1")
    cluster.wait_holders(["n1"], timeout=cluster.flavor.interval * 4 + 3, desc="n1 preempts back")
    cluster.wait_state("n1", "MASTER", timeout=1)
    cluster.wait_state("n2", "BACKUP", timeout=1)
    after_fault = lines_after(n1, r"Entering (BACKUP|MASTER|FAULT) STATE", r"Entering FAULT STATE")
    assert [re.search(r"Entering (\w+) STATE", l).group(1) for l in after_fault] == ["BACKUP", "MASTER"], \
        after_fault
    assert (vipdlab.now_ns() - t_back) / 1e9 < 5
    poller.wait_answer_from("n1", since_ns=t_back, timeout=3)
    poller.stop()


def test_fast_fail_off_waits_for_the_interval_check(make_cluster):
    """--fast-fail false, 1 s interval: the refusal alone triggers nothing; the VIP moves at the
    next interval check: within interval + Skew_Time + 100 ms (+ the check's own latency) of the
    kill, and never through the fast path."""
    app = AppCluster(make_cluster(2, V3_XDP))
    cluster = app.cluster
    interval = 1.0
    app.elect("--fast-fail", "false", "--check-interval", f"{interval:g}")
    poller = app.poll_vip()
    watcher = app.lab.watch_addresses("n2")
    n1 = cluster.procs["n1"]

    t_kill = app.kill_app("n1")
    refused = poller.wait_refused(t_kill, timeout=2)
    event = watcher.wait_event("add", cluster.vip, t_kill, timeout=interval + 5)
    took = (event.ts_ns - t_kill) / 1e9
    bound = interval + cluster.skew_time(LOW) + FAILOVER_MARGIN_S + 0.05
    record_timing("app killed, fast fail off (1 s checks): kill -> VIP on n2", took, bound)
    assert took <= bound, f"{took * 1000:.1f} ms > {bound * 1000:.1f} ms"
    assert refused.sent_ns < event.ts_ns
    assert not log_lines(n1, r"refused a connection"), "fast fail is off but the fast path ran"
    cluster.wait_state("n1", "FAULT", timeout=1)
    cluster.wait_holders(["n2"], timeout=1)

    # The app listens again: n1's next interval check succeeds, it leaves FAULT as BACKUP and
    # preempts n2 after its Master_Down_Interval.
    n1_watcher = app.lab.watch_addresses("n1")
    app.restart_app("n1")
    t_listening = vipdlab.now_ns()
    bound = interval + cluster.master_down_interval(HIGH) + FAILOVER_MARGIN_S + 0.05
    took_over(cluster, n1_watcher, t_listening, bound,
              "app back, fast fail off (1 s checks): listening -> VIP on n1")
    cluster.wait_holders(["n1"], timeout=1, desc="n1 preempts back")
    cluster.wait_state("n1", "MASTER", timeout=1)
    after_fault = lines_after(n1, r"Entering (BACKUP|MASTER|FAULT) STATE", r"Entering FAULT STATE")
    assert [re.search(r"Entering (\w+) STATE", l).group(1) for l in after_fault] == ["BACKUP", "MASTER"]
    poller.stop()


def test_other_monitor_port(make_cluster):
    """--monitor-port 8080: killing the app on 8080 fails the master over; nothing listens on 80."""
    app = AppCluster(make_cluster(2, V3_XDP), port=8080)
    cluster = app.cluster
    app.elect()
    poller = app.poll_vip()
    watcher = app.lab.watch_addresses("n2")
    t_kill = app.kill_app("n1")
    refused = poller.wait_refused(t_kill, timeout=2)
    event = watcher.wait_event("add", cluster.vip, t_kill, timeout=5)
    took = (event.ts_ns - refused.sent_ns) / 1e9
    bound = cluster.skew_time(LOW) + FAILOVER_MARGIN_S
    record_timing("app on 8080 killed, fast fail: first refusal -> VIP on n2", took, bound)
    assert took <= bound
    assert log_lines(cluster.procs["n1"], rf"{CHECK_NAME}: port 8080 refused a connection")
    poller.stop()


def test_negative_weight_lowers_priority_and_backup_preempts(make_cluster):
    """--check-weight -60 (150 vs 100): the failing check lowers n1 to 90, it stays in BACKUP
    (not FAULT) and n2 (100) preempts it; the app coming back restores 150 and n1 preempts back."""
    app = AppCluster(make_cluster(2, V3_XDP))
    cluster = app.cluster
    app.elect("--check-weight", "-60", "--check-interval", "1")
    n1 = cluster.procs["n1"]
    watcher = app.lab.watch_addresses("n2")

    t_kill = app.kill_app("n1")
    # No client traffic: the interval check (1 s) finds the port closed.
    event = watcher.wait_event("add", cluster.vip, t_kill, timeout=5)
    took = (event.ts_ns - t_kill) / 1e9
    # Priority drops at the check (<= 1 s); n2 then preempts on the next advert of priority 90.
    bound = 1.0 + 2 * cluster.flavor.interval + FAILOVER_MARGIN_S
    record_timing("weight -60: kill -> VIP on n2 (preempt)", took, bound)
    assert took <= bound
    assert log_lines(n1, re.escape("Changing effective priority from 150 to 90")), n1.log()[-3000:]
    cluster.wait_state("n1", "BACKUP", timeout=2)
    assert not log_lines(n1, r"Entering FAULT STATE"), "a weighted check must not put the instance in FAULT"
    inst = cluster.instance("n1")
    assert inst["priority"] == 90 and inst["base_priority"] == HIGH, inst
    cluster.wait_state("n2", "MASTER", timeout=1)
    assert cluster.holders() == ["n2"]

    t_back = app.restart_app("n1")
    cluster.wait_holders(["n1"], timeout=5, desc="n1 back at 150 preempts")
    assert log_lines(n1, re.escape("Changing effective priority from 90 to 150")), n1.log()[-3000:]
    cluster.wait_state("n2", "BACKUP", timeout=1)
    assert (vipdlab.now_ns() - t_back) / 1e9 < 5
