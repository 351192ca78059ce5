"""vipd and Debian's keepalived in one VRRP group on the namespace lab.

The VRRPv2 case is the configuration OpenShift ipfailover generates (1 s adverts, PASS auth with
the first 8 characters of the config name, `preempt_delay 300`), with the same config name on both
sides so the passwords match; the VRRPv3 cases use 0.1 s adverts and plain preempt, with an IPv4
and with an IPv6 VIP (RFC 5798: link-local sources, the IPv6 pseudo-header checksum). Both ways
round: vipd with the higher priority and keepalived with the higher priority. Whatever happens,
keepalived must not complain about vipd's packets.

ctest: integration.interop_keepalived.
"""

import json
import re
import time

import pytest

import daemons
import vipdlab
from conftest import FAILOVER_MARGIN_S, record_timing, stop_gracefully, vrrp_address

HIGH, LOW = 150, 100


class Setting:
    def __init__(self, name, version, interval, preemption, ipv6=False):
        self.name, self.version, self.interval, self.preemption = name, version, interval, preemption
        self.ipv6 = ipv6

    def vrrp(self, vip, priority, extra=()):
        return daemons.VrrpSettings(vip=vip, priority=priority, vrid=51, version=self.version,
                                    advert_interval=self.interval, config_name="ipfailover_interop",
                                    preemption=self.preemption, extra_args=tuple(extra))

    def mdi(self, priority):
        return daemons.master_down_interval(self.interval, priority)

    def skew(self, priority):
        return daemons.skew_time(self.interval, priority)


SETTINGS = [
    pytest.param(Setting("v2-ipfailover", 2, 1.0, "preempt_delay 300"), id="v2-ipfailover"),
    pytest.param(Setting("v3-100ms", 3, 0.1, "preempt"), id="v3-100ms"),
    pytest.param(Setting("v3-100ms-ipv6", 3, 0.1, "preempt", ipv6=True), id="v3-100ms-ipv6"),
]
ROLES = [pytest.param("vipd", id="vipd-master"), pytest.param("keepalived", id="keepalived-master")]


class Pair:
    """n1 runs the higher priority, n2 the lower; `master_kind` says which daemon runs on n1."""

    def __init__(self, lab, setting, master_kind, vipd, keepalived, vipd_args):
        self.lab, self.setting = lab, setting
        self.vip = lab.host_address6(100) if setting.ipv6 else lab.host_address(100)
        self.kinds = {"n1": master_kind, "n2": "keepalived" if master_kind == "vipd" else "vipd"}
        self.daemons = {"vipd": vipd, "keepalived": keepalived}
        self.vipd_args = vipd_args
        self.procs = {}

    def start(self, node, priority):
        kind = self.kinds[node]
        extra = self.vipd_args if kind == "vipd" else ()
        self.procs[node] = self.daemons[kind].start(self.lab, node, self.setting.vrrp(self.vip, priority, extra))
        return self.procs[node]

    def holders(self):
        return self.lab.vip_holders(self.vip)

    def elect(self):
        """Higher priority first (with preempt_delay 300 a lower one that came up first would keep
        the VIP, as in ipfailover), then the lower one must settle as backup."""
        self.start("n1", HIGH)
        vipdlab.wait_for(lambda: self.holders() == ["n1"], timeout=self.setting.mdi(HIGH) + 5,
                         desc="n1 holds the VIP")
        low = self.start("n2", LOW)
        vipdlab.wait_for(lambda: low.backup_transitions() >= 1, timeout=5, desc="n2 BACKUP")
        # Longer than n2's Master_Down_Interval: had it ignored n1's adverts, it would be master now.
        time.sleep(self.setting.mdi(LOW) + max(2 * self.setting.interval, 0.5))
        assert self.holders() == ["n1"], self.logs()
        assert self.procs["n1"].master_transitions() == 1, self.logs()
        assert low.master_transitions() == 0, self.logs()

    def logs(self):
        return "\n".join(f"--- {node} {self.kinds[node]} (alive {proc.alive()}):\n" +
                         "\n".join(proc.log().splitlines()[-15:]) for node, proc in self.procs.items())

    def assert_no_complaints(self):
        for node, proc in self.procs.items():
            if self.kinds[node] != "keepalived":
                continue
            bad = [l for l in proc.log().splitlines() if daemons.KEEPALIVED_COMPLAINTS.search(l)]
            assert bad == [], f"keepalived on {node} complains: {bad}"


@pytest.fixture
def lab2():
    with vipdlab.Lab(nodes=2, ipv6=True) as lab:  # IPv6 addresses too, for the IPv6 setting
        yield lab


@pytest.fixture
def pair_factory(lab2, vipd, keepalived, vipd_base_args):
    def make(setting, master_kind):
        return Pair(lab2, setting, master_kind, vipd, keepalived, vipd_base_args)
    return make


def vipd_status(lab, node, vipd):
    out = lab.node(node).run([str(vipd.binary), "status", "--json"])
    return json.loads(out.stdout)["instances"][0]


@pytest.mark.parametrize("master_kind", ROLES)
@pytest.mark.parametrize("setting", SETTINGS)
def test_interop_election_and_priority_zero_handoff(pair_factory, lab2, vipd, setting, master_kind):
    pair = pair_factory(setting, master_kind)
    pair.elect()
    vipd_node = "n1" if master_kind == "vipd" else "n2"
    status = vipd_status(lab2, vipd_node, vipd)
    assert status["state"] == ("MASTER" if vipd_node == "n1" else "BACKUP")
    assert status["master"] == vrrp_address(lab2, "n1", pair.vip)
    assert lab2.ping("cl", pair.vip)

    watcher = lab2.watch_addresses("n2")
    t0, code, exit_s = stop_gracefully(pair.procs["n1"])
    event = watcher.wait_event("add", pair.vip, t0, timeout=setting.mdi(LOW) + 3)
    took = (event.ts_ns - t0) / 1e9
    bound = setting.skew(LOW) + FAILOVER_MARGIN_S
    record_timing(f"interop {setting.name} graceful {pair.kinds['n1']}->{pair.kinds['n2']}", took, bound)
    assert code == 0
    assert took <= bound, f"priority-0 handoff took {took:.3f}s (bound {bound:.3f}s)"
    assert pair.holders() == ["n2"]
    assert pair.procs["n2"].master_transitions() == 1
    assert re.search(r"\) (Backup received priority 0 advertisement|Received advert from \S+ with "
                     r"lower priority 0)", pair.procs["n2"].log()), pair.procs["n2"].log()
    assert lab2.ping("cl", pair.vip)
    pair.assert_no_complaints()


@pytest.mark.parametrize("master_kind", ROLES)
@pytest.mark.parametrize("setting", SETTINGS)
def test_interop_failover_on_crash(pair_factory, lab2, setting, master_kind):
    pair = pair_factory(setting, master_kind)
    pair.elect()
    lab2.start_http_servers()
    assert lab2.http_get(pair.vip) == "n1"
    watcher = lab2.watch_addresses("n2")
    t0 = vipdlab.now_ns()
    pair.procs["n1"].crash()
    pair.procs["n1"].wait(5)
    event = watcher.wait_event("add", pair.vip, t0, timeout=setting.mdi(LOW) + 3)
    took = (event.ts_ns - t0) / 1e9
    bound = setting.mdi(LOW) + FAILOVER_MARGIN_S
    record_timing(f"interop {setting.name} crash {pair.kinds['n1']}->{pair.kinds['n2']}", took, bound)
    assert took <= bound, f"took over after {took:.3f}s (bound {bound:.3f}s)"
    assert took >= 2 * setting.interval
    # n1 was SIGKILLed with the VIP on it; the client must follow n2's gratuitous ARP.
    vipdlab.wait_for(lambda: lab2.http_get(pair.vip, timeout=0.5) == "n2", timeout=1.0, interval=0.05,
                     desc="client reaches n2 via the VIP")
    pair.assert_no_complaints()
