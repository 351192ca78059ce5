"""Reload on the namespace lab: SIGHUP and `vipd reload` read the config file again and apply it
without disturbing what did not change.

Two nodes run two instances from a config file (web_VIP_1: VRID 51, web_VIP_2: VRID 52; n1 MASTER
of both). Step by step, each with the transitions and address events it may cause, and no others:
  unchanged (SIGHUP to both)   no transition, no address event, no gap in n1's adverts;
  priority 150 -> 140          the next adverts carry 140, no transition;
  VIP lists grow               exactly the new VIPs appear on n1, no transition;
  web_VIP_2 removed            n1 hands it off with priority 0 (n2 within Skew_Time), web_VIP_1
                               untouched;
  web_VIP_2 added again        it starts and preempts back to n1, web_VIP_1 untouched;
  a bad file                   `vipd reload` fails naming the error, everything keeps running;
  a new health check           needs a restart: refused with that reason, nothing changes.

ctest: integration.vipd_reload.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

import daemons
import vipdlab
from conftest import FAILOVER_MARGIN_S, log_lines

INTERVAL = 0.1


def address(lab, host: int) -> str:
    return lab.host_address(host)


class ConfigNode:
    """vipd on one node, configured by a TOML file the test rewrites; flags hold only what never
    changes here."""

    def __init__(self, lab: vipdlab.Lab, vipd: daemons.Vipd, node: str):
        self.lab = lab
        self.vipd = vipd
        self.node = node
        self.path = lab.workdir / f"{node}-vipd.toml"
        self.proc = None

    def write(self, vips: list[int], groups: int, priority: int, monitor_port: int = 0) -> None:
        text = "\n".join([
            'interface = "eth0"',
            f'vips = "{",".join(address(self.lab, h) for h in vips)}"',
            f"vip_groups = {groups}",
            'config_name = "web"',
            "vrrp_id_offset = 50",
            "vrrp_version = 3",
            f"advert_interval = {INTERVAL}",
            f"priority = {priority}",
            'preemption = "preempt"',
            f"monitor_port = {monitor_port}",
            "garp_master_delay = 0",
            "",
        ])
        self.path.write_text(text)

    def start(self) -> daemons.DaemonProcess:
        settings = daemons.VrrpSettings(vip=address(self.lab, 100), priority=0, config_name="web")
        self.proc = self.vipd.start_from_config(self.lab, self.node, self.path, settings)
        return self.proc

    def reload(self) -> dict:
        """`vipd reload`: exit code, and the daemon's verdict line (stdout if it reloaded, stderr
        with its errors if not)."""
        out = self.lab.node(self.node).run([str(self.vipd.binary), "reload"], check=False)
        return {"ok": out.returncode == 0, "out": out.stdout, "err": out.stderr}

    def states(self) -> dict[str, str]:
        out = self.lab.node(self.node).run([str(self.vipd.binary), "status", "--json"], check=False)
        if out.returncode != 0:
            return {}
        return {i["name"]: i["state"] for i in json.loads(out.stdout)["instances"]}

    def transitions(self, name: str) -> int:
        return len(log_lines(self.proc, rf"\({name}\) Entering \w+ STATE"))


def recorded_vips(node: ConfigNode) -> list[str]:
    """The VIPs the node's state file lists for `vipd cleanup`: every configured one."""
    state = json.loads((node.lab.workdir / f"{node.node}-state" / "eth0.state").read_text())
    return sorted(vip.split("/")[0] for vip in state["vips"])


def wait_states(node: ConfigNode, expected: dict[str, str], timeout: float) -> None:
    vipdlab.wait_for(lambda: node.states() == expected, timeout=timeout,
                     desc=f"{node.node} states {expected} (now {node.states()})")


def holders(lab, host: int) -> list[str]:
    return lab.vip_holders(address(lab, host))


@pytest.fixture
def reload_lab(vipd):
    with vipdlab.Lab(nodes=2) as lab:
        yield lab


def test_reload_changes_only_what_changed(reload_lab, vipd):
    lab = reload_lab
    n1, n2 = ConfigNode(lab, vipd, "n1"), ConfigNode(lab, vipd, "n2")
    n1.write([100, 101], groups=2, priority=150)
    n2.write([100, 101], groups=2, priority=100)
    n1.start()
    vipdlab.wait_for(lambda: holders(lab, 100) == ["n1"] and holders(lab, 101) == ["n1"],
                     timeout=daemons.master_down_interval(INTERVAL, 1) + 5, desc="n1 holds both")
    n2.start()
    wait_states(n2, {"web_VIP_1": "BACKUP", "web_VIP_2": "BACKUP"}, timeout=5)
    wait_states(n1, {"web_VIP_1": "MASTER", "web_VIP_2": "MASTER"}, timeout=2)
    watch1, watch2 = lab.watch_addresses("n1"), lab.watch_addresses("n2")
    adverts = lab.watch_adverts("n2")
    n1_ip = lab.node("n1").ipv4
    before = {name: n1.transitions(name) for name in ("web_VIP_1", "web_VIP_2")}

    # 1. Unchanged: SIGHUP to both; nothing moves, n1's adverts keep their rhythm.
    t0 = vipdlab.now_ns()
    for node in (n1, n2):
        node.proc.proc.signal(signal.SIGHUP)
    for node in (n1, n2):
        vipdlab.wait_for(lambda node=node: log_lines(node.proc, r"Reloaded the configuration: "
                                                     r"2 instance\(s\) unchanged, 0 changed, "
                                                     r"0 added, 0 removed"),
                         timeout=3, desc=f"{node.node} reloaded")
    time.sleep(5 * INTERVAL)
    assert watch1.events(t0) == [] and watch2.events(t0) == []
    assert {name: n1.transitions(name) for name in before} == before
    assert len(log_lines(n2.proc, r"Entering \w+ STATE")) == 2, "n2 changed state"
    for vrid in (51, 52):
        times = [e.ts_ns for e in adverts.events(t0 - int(3 * INTERVAL * 1e9))
                 if e.source == n1_ip and e.vrid == vrid]
        gaps = [(b - a) / 1e9 for a, b in zip(times, times[1:])]
        assert gaps and max(gaps) < 2 * INTERVAL, f"VRID {vrid}: advert gap {max(gaps or [0])}"

    # 2. Priority 150 -> 140 through `vipd reload`: carried by the next adverts, no transition.
    n1.write([100, 101], groups=2, priority=140)
    t0 = vipdlab.now_ns()
    answer = n1.reload()
    assert answer["ok"], answer
    assert "0 instance(s) unchanged, 2 changed, 0 added, 0 removed" in answer["out"], answer
    vipdlab.wait_for(lambda: all(any(e.source == n1_ip and e.vrid == vrid and e.priority == 140
                                     for e in adverts.events(t0)) for vrid in (51, 52)),
                     timeout=3 * INTERVAL + 0.5, desc="adverts with priority 140")
    assert watch1.events(t0) == [] and watch2.events(t0) == []
    assert {name: n1.transitions(name) for name in before} == before

    # 3. VIP lists grow: web_VIP_1 {100, 102}, web_VIP_2 {101, 103}; only the new ones appear.
    n1.write([100, 102, 101, 103], groups=2, priority=140)
    t0 = vipdlab.now_ns()
    assert n1.reload()["ok"]
    for host in (102, 103):
        watch1.wait_event("add", address(lab, host), t0, timeout=2)
    time.sleep(3 * INTERVAL)
    assert sorted(e.address for e in watch1.events(t0)) == [address(lab, 102), address(lab, 103)]
    assert all(e.kind == "add" for e in watch1.events(t0))
    assert holders(lab, 102) == ["n1"] and holders(lab, 103) == ["n1"]
    assert {name: n1.transitions(name) for name in before} == before
    assert recorded_vips(n1) == sorted(address(lab, host) for host in (100, 101, 102, 103))

    # 4. web_VIP_2 removed (one group holding 100 and 102): priority 0, n2 takes 101 at once.
    n1.write([100, 102], groups=1, priority=140)
    t0 = vipdlab.now_ns()
    assert n1.reload()["ok"]
    taken = watch2.wait_event("add", address(lab, 101), t0, timeout=3)
    bound = daemons.skew_time(INTERVAL, 100) + FAILOVER_MARGIN_S + 0.1
    assert (taken.ts_ns - t0) / 1e9 <= bound, f"hand-off took {(taken.ts_ns - t0) / 1e9:.3f} s"
    assert any(e.source == n1_ip and e.vrid == 52 and e.priority == 0 for e in adverts.events(t0))
    assert holders(lab, 101) == ["n2"] and holders(lab, 103) == []
    assert holders(lab, 100) == ["n1"] and holders(lab, 102) == ["n1"]
    assert n1.transitions("web_VIP_1") == before["web_VIP_1"]
    assert n1.states() == {"web_VIP_1": "MASTER"}
    assert recorded_vips(n1) == sorted(address(lab, host) for host in (100, 102)), "removed, forgotten"

    # 5. web_VIP_2 added again: it starts on n1 and preempts (140 > 100); web_VIP_1 untouched.
    n1.write([100, 102, 101, 103], groups=2, priority=140)
    t0 = vipdlab.now_ns()
    assert n1.reload()["ok"]
    watch1.wait_event("add", address(lab, 101), t0, timeout=daemons.master_down_interval(INTERVAL, 140) + 2)
    vipdlab.wait_for(lambda: holders(lab, 101) == ["n1"], timeout=2, desc="n1 holds 101 again")
    wait_states(n1, {"web_VIP_1": "MASTER", "web_VIP_2": "MASTER"}, timeout=2)
    assert n1.transitions("web_VIP_1") == before["web_VIP_1"]
    assert not [e for e in watch1.events(t0) if e.address in (address(lab, 100), address(lab, 102))]

    # 6. A bad file: refused with the error, the running configuration stays.
    n1.write([100, 102, 101, 103], groups=2, priority=300)
    t0 = vipdlab.now_ns()
    answer = n1.reload()
    assert not answer["ok"], answer
    assert "300" in answer["err"] and "keeping the running configuration" in answer["err"], answer
    assert log_lines(n1.proc, r"Reload failed \(1 error\(s\)\): keeping the running configuration")
    time.sleep(3 * INTERVAL)
    assert n1.proc.alive() and n2.proc.alive()
    assert watch1.events(t0) == [] and watch2.events(t0) == []
    assert any(e.source == n1_ip and e.vrid == 51 and e.priority == 140 for e in adverts.events(t0))

    # 7. A setting the running daemon cannot change (the health check): refused, nothing moves.
    n1.write([100, 102, 101, 103], groups=2, priority=140, monitor_port=8080)
    t0 = vipdlab.now_ns()
    answer = n1.reload()
    assert not answer["ok"], answer
    assert "health check cannot change while vipd runs" in answer["err"], answer
    time.sleep(3 * INTERVAL)
    assert n1.proc.alive() and watch1.events(t0) == []
    assert n1.states() == {"web_VIP_1": "MASTER", "web_VIP_2": "MASTER"}

    # 8. A backup's reload drops web_VIP_2, which it never held: its record forgets 101 at once
    # (nothing will remove it), and keeps 100, which it may still add.
    assert recorded_vips(n2) == sorted(address(lab, host) for host in (100, 101))
    n2.write([100], groups=1, priority=100)
    assert n2.reload()["ok"]
    assert recorded_vips(n2) == [address(lab, 100)]
