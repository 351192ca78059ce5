"""Operating vipd on the namespace lab: systemd readiness (the sd_notify protocol), `vipd cleanup`
after a SIGKILL, SIGUSR1/SIGUSR2 dumps that never stop the daemon, and reload without flapping.

Readiness: vipd gets NOTIFY_SOCKET pointing at a datagram socket this test reads, as systemd's
Type=notify does; READY=1 must come once the data plane is attached and the instances run (its
STATUS= names their states and the data plane), WATCHDOG=1 keeps coming at WatchdogSec/2, and
STOPPING=1 comes on SIGTERM.

Cleanup: the test supervises vipd like systemd does (SIGKILL, then the unit's ExecStopPost=,
`vipd cleanup --interface eth0`); the VIP must be gone within a second of the kill.

ctest: integration.vipd_operations.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

import daemons
import vipdlab
from conftest import V3_XDP, log_lines, stop_gracefully

CLEANUP_BOUND_S = 1.0


def elect_pair(cluster, extra=()):
    cluster.start("n1", 150, extra=extra)
    cluster.start("n2", 100, extra=extra)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
    cluster.wait_state("n1", "MASTER", timeout=2)
    cluster.wait_state("n2", "BACKUP", timeout=2)


# --- readiness ---------------------------------------------------------------------------------


class NotifySocket:
    """What systemd listens on for Type=notify: a datagram socket; every message is kept with its
    arrival time (CLOCK_MONOTONIC ns)."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[int, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((vipdlab.now_ns(), fields))

    def first(self, key: str):
        return next(((ts, m) for ts, m in list(self.messages) if key in m), None)

    def count(self, key: str, since_ns: int = 0) -> int:
        return sum(1 for ts, m in list(self.messages) if key in m and ts >= since_ns)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class NotifiedVipd(daemons.Vipd):
    """vipd started the way systemd starts a Type=notify unit with WatchdogSec=."""

    def __init__(self, notify_path: Path, watchdog_usec: int):
        super().__init__()
        self.notify_path = notify_path
        self.watchdog_usec = watchdog_usec

    def environment(self, lab, node, settings):
        return {**super().environment(lab, node, settings), "NOTIFY_SOCKET": str(self.notify_path),
                "WATCHDOG_USEC": str(self.watchdog_usec)}


def test_ready_only_once_instances_run_then_status_watchdog_and_stopping(make_cluster, vipd):
    cluster = make_cluster(2, V3_XDP)
    notify = NotifySocket(cluster.lab.workdir / "notify.sock")
    try:
        cluster.start("n1", 150)
        cluster.wait_holders(["n1"], timeout=cluster.election_timeout())
        # n2 under "systemd": 400 ms watchdog, so a ping every 200 ms.
        notified = NotifiedVipd(notify.path, 400_000)
        t_start = vipdlab.now_ns()
        proc = notified.start(cluster.lab, "n2", cluster.settings(100))
        cluster.procs["n2"] = proc
        ready = vipdlab.wait_for(lambda: notify.first("READY"), timeout=10, desc="READY=1")
        ready_ns, message = ready
        # READY=1 once the instances run on the attached data plane, never before.
        assert message["READY"] == "1"
        assert message.get("STATUS") == "1 BACKUP, dataplane xdp", message
        lines = proc.log().splitlines()
        assert any("eBPF data plane attached to eth0" in line for line in lines), proc.log()
        assert any("Entering BACKUP STATE" in line for line in lines), proc.log()
        assert notify.count("READY") == 1
        earlier = [m for ts, m in notify.messages if ts < ready_ns]
        assert earlier == [], f"messages before READY: {earlier}"
        assert ready_ns - t_start < 10e9

        # The watchdog pings from the loop, at half of WATCHDOG_USEC.
        t0 = vipdlab.now_ns()
        time.sleep(1.0)
        pings = notify.count("WATCHDOG", t0)
        assert 3 <= pings <= 8, f"{pings} WATCHDOG=1 in 1 s with WatchdogSec=400ms"

        # STATUS= follows the state: n1 goes, n2 becomes MASTER.
        cluster.crash("n1")
        vipdlab.wait_for(lambda: any(m.get("STATUS") == "1 MASTER, dataplane xdp"
                                     for _, m in list(notify.messages)),
                         timeout=cluster.master_down_interval(100) + 2, desc="STATUS=1 MASTER")

        _, code, _ = stop_gracefully(proc)
        assert code == 0
        stopping = vipdlab.wait_for(lambda: notify.first("STOPPING"), timeout=2, desc="STOPPING=1")
        assert stopping[1]["STOPPING"] == "1"
    finally:
        notify.close()


def test_unit_is_type_notify_with_cleanup_after_any_stop():
    unit = (Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "vipd@.service").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    assert settings["Type"] == "notify" and settings["NotifyAccess"] == "main"
    assert settings["ExecStopPost"].endswith("vipd cleanup --interface %I")
    assert settings["WatchdogSec"]
    assert settings["RuntimeDirectory"] == "vipd" and settings["RuntimeDirectoryPreserve"] == "yes"


# --- cleanup after a crash ---------------------------------------------------------------------


def cleanup(cluster, node: str) -> "subprocess.CompletedProcess":
    state_dir = cluster.lab.workdir / f"{cluster.lab.node(node).name}-state"
    env = {**daemons.scrubbed_environment(), "VIPD_STATE_DIR": str(state_dir)}
    return cluster.lab.node(node).run(
        ["env", f"VIPD_STATE_DIR={env['VIPD_STATE_DIR']}", str(cluster.vipd.binary), "cleanup",
         "--interface", "eth0"], check=False)


def test_sigkill_then_cleanup_removes_the_vip_within_a_second(make_cluster):
    cluster = make_cluster(2, V3_XDP)
    elect_pair(cluster)
    state_file = cluster.lab.workdir / f"{cluster.lab.node('n1').name}-state" / "eth0.state"
    recorded = json.loads(state_file.read_text())
    assert [v.split("/")[0] for v in recorded["vips"]] == [cluster.vip], recorded
    assert recorded["xdp_prog_id"] > 0, recorded
    # The backup recorded the VIP it may add when it started: its takeover writes no file (an
    # ext4 rename on that path cost the takeover ~1 ms, found with trace_takeover.py).
    backup_file = cluster.lab.workdir / f"{cluster.lab.node('n2').name}-state" / "eth0.state"
    assert [v.split("/")[0] for v in json.loads(backup_file.read_text())["vips"]] == [cluster.vip]
    backup_before = backup_file.stat()

    # A running vipd is never cleaned up under its feet.
    refused = cleanup(cluster, "n2")
    assert refused.returncode == 1 and "is running" in refused.stderr, refused
    cluster.assert_one_attachment("n2")

    # The supervisor: SIGKILL, wait for the main process, run ExecStopPost=.
    watcher = cluster.lab.watch_addresses("n1")
    t0 = cluster.crash("n1")
    assert cluster.lab.node("n1").addresses().count(cluster.vip) == 1, "SIGKILL leaves the VIP"
    done = cleanup(cluster, "n1")
    assert done.returncode == 0, done.stdout + done.stderr
    gone = watcher.wait_event("del", cluster.vip, t0, timeout=CLEANUP_BOUND_S + 2)
    took = (gone.ts_ns - t0) / 1e9
    assert took <= CLEANUP_BOUND_S, f"VIP gone {took * 1000:.0f} ms after SIGKILL"
    assert f"removed VIP {cluster.vip}/32 from eth0" in done.stdout, done.stdout
    assert "XDP program" in done.stdout, done.stdout
    cluster.assert_no_attachment("n1")
    assert not state_file.exists()
    # The backup takes over on its own (Master_Down_Interval), the VIP only there.
    cluster.wait_holders(["n2"], timeout=cluster.master_down_interval(100) + 2)
    backup_after = backup_file.stat()
    assert (backup_after.st_ino, backup_after.st_mtime_ns) == (
        backup_before.st_ino, backup_before.st_mtime_ns), "the takeover rewrote the state file"
    again = cleanup(cluster, "n1")
    assert again.returncode == 0 and "nothing left by vipd on eth0" in again.stdout, again.stdout


# --- SIGUSR1 / SIGUSR2 -------------------------------------------------------------------------


def test_sigusr1_and_sigusr2_dump_and_never_stop(make_cluster):
    cluster = make_cluster(2, V3_XDP)
    elect_pair(cluster)
    master = cluster.procs["n1"]
    watcher = cluster.lab.watch_addresses("n1")
    t0 = vipdlab.now_ns()
    for _ in range(3):  # operators send them by habit, sometimes in a row
        master.proc.signal(signal.SIGUSR1)
        master.proc.signal(signal.SIGUSR2)
        time.sleep(0.1)
    vipdlab.wait_for(lambda: len(log_lines(master, r"State dump: interface eth0")) == 3, timeout=3,
                     desc="three state dumps")
    dump = log_lines(master, r"\(vipdtest_VIP_1\) VRID 51 MASTER for \d+ ms, priority 150")
    assert len(dump) == 3, master.log()[-3000:]
    assert "VIPs 198.18.0.100/32 (held)" in dump[0]
    split_brain = log_lines(master, r"\(vipdtest_VIP_1\) peers heard: .*, split brains settled: "
                                    r"vrrp 0, foreign 0, no conflict")
    assert len(split_brain) == 3, master.log()[-3000:]
    stats = log_lines(master, r"adverts sent \d+")
    assert len(stats) >= 3, master.log()[-3000:]
    sent = [int(re.search(r"adverts sent (\d+)", line).group(1)) for line in stats]
    assert sent[-1] > 0
    # Nothing changed: alive, MASTER, no transition, no address event.
    time.sleep(0.3)
    assert master.alive() and cluster.procs["n2"].alive()
    assert master.master_transitions() == 1
    assert watcher.events(t0) == []
    cluster.assert_single_master("n1")
