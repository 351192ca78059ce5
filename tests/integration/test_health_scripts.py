"""vipd's check and notify scripts on the namespace lab (VRRPv3, 0.1 s adverts, n1 150 / n2 100).

- A check script that hangs is killed once its timeout (= the interval) expires: SIGTERM to its
  process group, SIGKILL 2 s later if that did not end it (keepalived's behaviour). It counts as a
  failure: `VRRP_Script(chk_<name>) timed_out`, the instance goes to FAULT and the VIP moves.
- The notify script gets `INSTANCE <name> MASTER|BACKUP|FAULT|STOP <priority>` for every
  transition, in order, also when it is slow, and STOP on a graceful stop.

ctest: integration.health_scripts.
"""

import re
import stat
import time
from pathlib import Path

import pytest

import vipdlab
from conftest import FAILOVER_MARGIN_S, V3_XDP, Cluster, log_lines, record_timing, stop_gracefully

HIGH, LOW = 150, 100
CHECK_NAME = "chk_vipdtest"
INSTANCE = "vipdtest_VIP_1"


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def check_script(directory: Path, stubborn: bool = False) -> Path:
    """Passes until `hang` exists; then records its pid and hangs in a child `sleep 1000`
    (stubborn: ignoring SIGTERM, which the sleep inherits)."""
    trap = "trap '' TERM\n" if stubborn else ""
    return write_script(directory / "check.sh", f"""{trap}
[ -e {directory}/hang ] || exit 0
echo $$ >> {directory}/hung-pids
sleep 1000
""")


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def sleepers(lab: vipdlab.Lab, node: str) -> list[int]:
    """`sleep 1000` processes in the node's namespace."""
    ns = lab.node(node).ns_name
    pids = vipdlab.run_cmd(["ip", "netns", "pids", ns], check=False).stdout.split()
    found = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline[:2] == [b"sleep", b"1000"] and pid_alive(int(pid)):
            found.append(int(pid))
    return found


def start_pair(cluster: Cluster, options: dict[str, tuple[str, ...]]) -> None:
    cluster.start("n1", HIGH, extra=options["n1"])
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout(), desc="n1 holds the VIP")
    cluster.start("n2", LOW, extra=options["n2"])
    cluster.wait_state("n2", "BACKUP", timeout=5)
    master_ip = cluster.lab.node("n1").ipv4
    vipdlab.wait_for(lambda: (cluster.instance("n2") or {}).get("master") == master_ip, timeout=2,
                     desc="n2 names n1 as master")
    cluster.assert_single_master("n1")


@pytest.mark.parametrize("stubborn", [pytest.param(False, id="sigterm"),
                                      pytest.param(True, id="ignores-sigterm")])
def test_hanging_check_script_is_killed_and_fails(make_cluster, stubborn):
    """The check script starts hanging on n1 (timeout = interval = 1 s). Like keepalived, the run
    counts as failed (`timed_out`) once the killed script has ended: at the timeout when SIGTERM
    works, 2 s later (SIGKILL) when the script ignores SIGTERM. Then n1 is in FAULT, n2 holds
    the VIP, the script's whole process group is gone and runs never overlap."""
    cluster = make_cluster(2, V3_XDP)
    dirs = {n: cluster.lab.workdir / f"{n}-check" for n in ("n1", "n2")}
    for d in dirs.values():
        d.mkdir()
    scripts = {n: check_script(d, stubborn) for n, d in dirs.items()}
    interval, grace = 1.0, 2.0
    start_pair(cluster, {n: ("--check-script", str(scripts[n]), "--check-interval", f"{interval:g}")
                         for n in scripts})
    n1 = cluster.procs["n1"]
    assert log_lines(n1, re.escape(f"VRRP_Script({CHECK_NAME}) succeeded")), n1.log()[-2000:]
    watcher = cluster.lab.watch_addresses("n2")

    (dirs["n1"] / "hang").touch()
    pid_file = dirs["n1"] / "hung-pids"
    vipdlab.wait_for(pid_file.exists, timeout=interval + 1, interval=0.01, desc="the check script hangs")
    t_run = vipdlab.now_ns()  # (just after) the start of the hanging run
    hung = int(pid_file.read_text().split()[0])
    assert pid_alive(hung)

    if stubborn:
        # Past the timeout (SIGTERM, ignored) but before the SIGKILL: the script still runs and,
        # as in keepalived, the run has not ended, so nothing has failed yet.
        time.sleep(interval + grace / 2 - (vipdlab.now_ns() - t_run) / 1e9)
        assert pid_alive(hung), "killed before the 2 s grace period"
        assert len(sleepers(cluster.lab, "n1")) == 1
        assert cluster.holders() == ["n1"] and not log_lines(n1, r"timed_out")
    event = watcher.wait_event("add", cluster.vip, t_run, timeout=interval + grace + 5)
    took = (event.ts_ns - t_run) / 1e9
    bound = interval + (grace if stubborn else 0) + cluster.skew_time(LOW) + FAILOVER_MARGIN_S
    record_timing(f"hanging check ({'ignores SIGTERM' if stubborn else 'plain'}): run start -> VIP on n2",
                  took, bound)
    assert took <= bound, f"{took:.3f}s > {bound:.3f}s"
    assert log_lines(n1, re.escape(f"VRRP_Script({CHECK_NAME}) timed_out")), n1.log()[-2000:]
    assert not pid_alive(hung), f"hung script {hung} still running"
    cluster.wait_state("n1", "FAULT", timeout=1)
    assert cluster.holders() == ["n2"]
    # The whole process group went, the sleep child included, and runs never overlap: at most
    # the next (hanging) run is alive.
    live = [int(p) for p in pid_file.read_text().split() if pid_alive(int(p))]
    assert len(live) <= 1 and hung not in live, live
    assert len(sleepers(cluster.lab, "n1")) <= 1

    # The script recovers: n1 leaves FAULT and preempts back; nothing is left behind.
    (dirs["n1"] / "hang").unlink()
    cluster.wait_holders(["n1"], timeout=2 * interval + grace + 3, desc="n1 back")
    cluster.wait_state("n1", "MASTER", timeout=1)
    assert not any(pid_alive(int(p)) for p in pid_file.read_text().split())
    assert sleepers(cluster.lab, "n1") == []
    assert n1.alive()


def notify_script(path: Path, out: Path) -> Path:
    # Slow on purpose (0.2 s per call): the daemon must neither block nor reorder.
    return write_script(path, f"""sleep 0.2
echo "$(cat /proc/uptime | cut -d' ' -f1) $*" >> {out}
""")


def notifications(out: Path) -> list[list[str]]:
    if not out.exists():
        return []
    return [line.split()[1:] for line in out.read_text().splitlines() if line.strip()]


def states(out: Path) -> list[str]:
    return [args[2] for args in notifications(out)]


def test_notify_script_sequence(make_cluster):
    """Failover sequence with the app check: n1 master, n1's app dies (FAULT, n2 MASTER), comes
    back (n1 BACKUP then MASTER, n2 BACKUP), graceful stop of n1 (STOP, n2 MASTER), stop of n2."""
    cluster = make_cluster(2, V3_XDP)
    lab = cluster.lab
    httpd = {n.name: lab.start_http(n) for n in lab.nodes}
    outs = {n: lab.workdir / f"{n}-notify.out" for n in ("n1", "n2")}
    scripts = {n: notify_script(lab.workdir / f"{n}-notify.sh", outs[n]) for n in outs}
    cluster.base_args = ()
    options = {n: ("--monitor-port", "80", "--check-interval", "0.5", "--notify-script", str(scripts[n]))
               for n in outs}
    start_pair(cluster, options)

    def wait_states(node: str, expected: list[str], timeout: float = 5) -> None:
        vipdlab.wait_for(lambda: states(outs[node]) == expected, timeout=timeout, interval=0.05,
                         desc=f"{node} notifications {expected} (have {notifications(outs[node])})")

    wait_states("n1", ["BACKUP", "MASTER"])
    wait_states("n2", ["BACKUP"])

    httpd["n1"].kill()
    httpd["n1"].wait(5)
    cluster.wait_holders(["n2"], timeout=3)
    wait_states("n1", ["BACKUP", "MASTER", "FAULT"])
    wait_states("n2", ["BACKUP", "MASTER"])

    httpd["n1"] = lab.start_http("n1")
    cluster.wait_holders(["n1"], timeout=5)
    wait_states("n1", ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"])
    wait_states("n2", ["BACKUP", "MASTER", "BACKUP"])

    _, code, _ = stop_gracefully(cluster.procs["n1"])
    assert code == 0
    cluster.wait_holders(["n2"], timeout=2)
    wait_states("n1", ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "STOP"])
    wait_states("n2", ["BACKUP", "MASTER", "BACKUP", "MASTER"])
    _, code, _ = stop_gracefully(cluster.procs["n2"])
    assert code == 0
    wait_states("n2", ["BACKUP", "MASTER", "BACKUP", "MASTER", "STOP"])

    # Arguments: INSTANCE <name> <state> <priority>, the configured priority each time.
    for node, priority in (("n1", HIGH), ("n2", LOW)):
        for args in notifications(outs[node]):
            assert args[:2] == ["INSTANCE", INSTANCE], args
            assert len(args) == 4 and args[3].isdigit(), args
            if args[2] != "FAULT":
                assert int(args[3]) == priority, (node, args)
    time.sleep(0.5)  # nothing more arrives after the stops
    assert len(notifications(outs["n1"])) == 6 and len(notifications(outs["n2"])) == 5
