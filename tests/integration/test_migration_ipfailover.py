"""Rolling migration from OpenShift ipfailover (keepalived) to vipd on the namespace lab.

Every node gets the same OPENSHIFT_HA_* environment. keepalived runs the keepalived.conf that
ipfailover's generator writes for it (daemons.Ipfailover: vrrp_script chk_<name> running
`/bin/bash -c '</dev/tcp/<node ip>/80'`, one `<name>_VIP_<n>` instance per VIP group with
VRID offset + n, the priority scheme, the PREEMPTION line, PASS auth, track_script); vipd gets the
environment itself (no options). 3 VIPs in 2 groups, 2 replicas: n1 (.11) is master-eligible for
instance 2 only, n2 (.12) for both, so n2 owns instance 1 and n1 instance 2.

The nodes are migrated one at a time while the other keeps running keepalived: the masters must be
the same whichever daemon runs where, failover must work both ways (daemon crash and application
failure, keepalived -> vipd and vipd -> keepalived), and keepalived must never complain about
vipd's packets.

PREEMPTION is `preempt_delay 0` (immediate) so a returning node takes its instances back within
the test; the default `preempt_delay 300` is covered by test_default_preempt_delay_with_state_master.

ctest: integration.migration_ipfailover.
"""

import json
import re
import time

import pytest

import daemons
import vipdlab
from conftest import stop_gracefully

BASE_ENV = {
    "OPENSHIFT_HA_CONFIG_NAME": "ipf-migrate",
    "OPENSHIFT_HA_VIRTUAL_IPS": "198.18.0.100-102",
    "OPENSHIFT_HA_VIP_GROUPS": "2",
    "OPENSHIFT_HA_VRRP_ID_OFFSET": "20",
    "OPENSHIFT_HA_MONITOR_PORT": "80",
    "OPENSHIFT_HA_REPLICA_COUNT": "2",
    "OPENSHIFT_HA_NETWORK_INTERFACE": "eth0",
    "OPENSHIFT_HA_CHECK_INTERVAL": "1",
    "OPENSHIFT_HA_PREEMPTION": "preempt_delay 0",
}
ADVERT = 1.0  # ipfailover emits no advert_int: VRRPv2, 1 s
# Master_Down_Interval of the lowest priority (1): no instance here waits longer (< 4 s).
MDI_MAX = daemons.master_down_interval(ADVERT, 1)
TAKEOVER_BOUND = MDI_MAX + 0.2  # what a takeover measured by the address watcher may take
MDI_BOUND = MDI_MAX + 2  # timeout of the waits: Master_Down_Interval + start-up and margin


class Migration:
    def __init__(self, lab: vipdlab.Lab, vipd_binary, env: dict):
        self.lab = lab
        self.env = env
        self.ipf = daemons.Ipfailover(env)
        self.vipd = daemons.IpfailoverVipd(env, binary=str(vipd_binary))
        self.keepalived = daemons.IpfailoverKeepalived(self.ipf)
        self.procs: dict[str, daemons.DaemonProcess] = {}
        self.keepalived_logs: list[daemons.DaemonProcess] = []
        self.httpd = {n.name: lab.start_http(n) for n in lab.nodes}
        self.plans = {n.name: self.vipd_plan(n.name) for n in lab.nodes}
        self.instances = {n.name: self.ipf.instances(n.ipv4) for n in lab.nodes}

    def vipd_plan(self, node: str) -> dict:
        ns = self.lab.node(node).ns_name
        argv = ["ip", "netns", "exec", ns, "env", *[f"{k}={v}" for k, v in self.env.items()],
                str(self.vipd.binary), "check-config", "--json"]
        out = vipdlab.run_cmd(argv)
        plan = json.loads(out.stdout)
        assert plan["valid"], plan
        return plan

    def settings(self) -> daemons.VrrpSettings:
        # Only the log patterns use it: both daemons take their configuration from the environment.
        return daemons.VrrpSettings(vip=self.ipf.vips()[0], priority=1, config_name=self.ipf.config_name)

    def start(self, node: str, kind: str) -> daemons.DaemonProcess:
        daemon = self.vipd if kind == "vipd" else self.keepalived
        proc = daemon.start(self.lab, node, self.settings())
        self.procs[node] = proc
        if kind == "keepalived":
            self.keepalived_logs.append(proc)
        return proc

    def expected_masters(self) -> dict[str, str]:
        """Instance name -> node with the highest priority (the address breaks ties)."""
        result = {}
        for number, _ in enumerate(self.ipf.vip_groups()):
            best = max(self.lab.nodes, key=lambda n: (self.instances[n.name][number].priority, n.ipv4))
            result[self.instances[best.name][number].name] = best.name
        return result

    def masters(self) -> dict[str, list[str]]:
        """Instance name -> nodes holding any of its VIPs (on eth0)."""
        result = {}
        for inst in self.instances[self.lab.nodes[0].name]:
            holders = set()
            for vip in inst.vips:
                holders.update(self.lab.vip_holders(vip))
            result[inst.name] = sorted(holders)
        return result

    def wait_masters(self, expected: dict[str, str], timeout: float, desc: str) -> None:
        want = {name: [node] for name, node in expected.items()}
        vipdlab.wait_for(lambda: self.masters() == want, timeout=timeout, interval=0.05,
                         desc=f"{desc}: masters {want} (now {self.masters()})")

    def gains(self, node: str, vips: list[str], since_ns: int, timeout: float, watcher) -> float:
        """Seconds from since_ns until the node had every one of `vips`."""
        last = since_ns
        for vip in vips:
            last = max(last, watcher.wait_event("add", vip, since_ns, timeout=timeout).ts_ns)
        return (last - since_ns) / 1e9

    def assert_keepalived_quiet(self) -> None:
        for proc in self.keepalived_logs:
            bad = [l for l in proc.log().splitlines() if daemons.KEEPALIVED_COMPLAINTS.search(l)]
            assert not bad, f"keepalived on {proc.node.name} complains: {bad[:5]}"


@pytest.fixture
def migration(vipd):
    with vipdlab.Lab(nodes=2) as lab:
        yield Migration(lab, vipd.binary, BASE_ENV)


def test_vipd_plan_matches_ipfailover_generator(migration):
    """vipd reads the environment as ipfailover's generator does: names, VRIDs, VIP groups, PASS
    auth, preemption, the check, and the priority scheme (master-eligible priorities exactly;
    backups in ipfailover's random range)."""
    for node in migration.lab.nodes:
        plan = migration.plans[node.name]
        generated = migration.instances[node.name]
        assert plan["vrrp_version"] == 2 and plan["advert_interval_ms"] == 1000, plan
        assert plan["interface"] == "eth0"
        check = plan["health_check"]
        assert check["kind"] == "tcp-port" and check["port"] == 80 and check["address"] == node.ipv4, check
        assert check["interval_ms"] == 1000 and check["weight"] == 0, check
        assert check["name"] in ("chk_ipf_migrate", "ipf_migrate"), check
        assert [i["name"] for i in plan["instances"]] == [g.name for g in generated]
        ipslot = int(node.ipv4.rsplit(".", 1)[1]) % 128
        for inst, gen in zip(plan["instances"], generated):
            assert inst["vrid"] == gen.vrid
            assert [v.split("/")[0] for v in inst["vips"]] == gen.vips
            assert inst["auth"] == "pass"
            assert inst["preempt"] and inst["preempt_delay_s"] == 0
            assert inst["master_eligible"] == gen.master_eligible, (inst, gen)
            if gen.master_eligible:
                assert inst["priority"] == gen.priority, (inst, gen)
            else:
                assert ipslot % 64 <= inst["priority"] <= ipslot % 64 + 31, inst
    assert migration.expected_masters() == {"ipf_migrate_VIP_1": "n2", "ipf_migrate_VIP_2": "n1"}


def test_rolling_migration_keepalived_to_vipd(migration):
    lab = migration.lab
    expected = migration.expected_masters()
    watchers = {n.name: lab.watch_addresses(n) for n in lab.nodes}
    inst1, inst2 = migration.instances["n1"]  # instance 1 (n2's), instance 2 (n1's)

    # 1. ipfailover as it runs today: keepalived on both nodes.
    migration.start("n1", "keepalived")
    migration.start("n2", "keepalived")
    migration.wait_masters(expected, timeout=MDI_BOUND + 3, desc="keepalived on both")
    time.sleep(2 * ADVERT)
    assert migration.masters() == {k: [v] for k, v in expected.items()}, "not stable"

    # 2. n1 migrates: ipfailover's pod stops (SIGTERM), vipd starts with the same environment and
    #    takes instance 2 back (preempt); instance 1 stays on n2.
    _, code, _ = stop_gracefully(migration.procs["n1"])
    assert code == 0, migration.procs["n1"].log()[-2000:]
    migration.wait_masters({inst1.name: "n2", inst2.name: "n2"}, timeout=3, desc="n1's keepalived stopped")
    t = vipdlab.now_ns()
    vipd_n1 = migration.start("n1", "vipd")
    migration.wait_masters(expected, timeout=MDI_BOUND + 3, desc="vipd on n1, keepalived on n2")
    # Started as BACKUP, vipd preempts instance 2 after its Master_Down_Interval.
    took = migration.gains("n1", inst2.vips, t, 1, watchers["n1"])
    assert took <= TAKEOVER_BOUND, f"vipd took instance 2 {took:.3f}s after its start"
    time.sleep(2 * ADVERT)
    assert migration.masters() == {k: [v] for k, v in expected.items()}, "not stable"
    assert vipd_n1.alive(), vipd_n1.log()[-2000:]

    # 3a. keepalived's application fails (its vrrp_script): keepalived goes FAULT, vipd takes
    #     instance 1; the application comes back and keepalived preempts it back.
    ka_n2 = migration.procs["n2"]
    t = vipdlab.now_ns()
    migration.httpd["n2"].kill()
    took = migration.gains("n1", inst1.vips, t, 1.0 + MDI_BOUND, watchers["n1"])
    assert took <= 1.0 + ADVERT + 0.5, f"vipd took instance 1 after {took:.3f}s"
    migration.wait_masters({inst1.name: "n1", inst2.name: "n1"}, timeout=2, desc="keepalived in FAULT")
    assert ka_n2.count(re.escape(f"({inst1.name}) Entering FAULT STATE")) >= 1
    migration.httpd["n2"] = lab.start_http("n2")
    migration.wait_masters(expected, timeout=MDI_BOUND + 2, desc="keepalived's app back")

    # 3b. vipd's application fails: vipd goes FAULT, keepalived takes instance 2, then back.
    t = vipdlab.now_ns()
    migration.httpd["n1"].kill()
    took = migration.gains("n2", inst2.vips, t, 1.0 + MDI_BOUND, watchers["n2"])
    assert took <= 1.0 + ADVERT + 0.5, f"keepalived took instance 2 after {took:.3f}s"
    migration.wait_masters({inst1.name: "n2", inst2.name: "n2"}, timeout=2, desc="vipd in FAULT")
    assert vipd_n1.count(r"Entering FAULT STATE") >= 1
    migration.httpd["n1"] = lab.start_http("n1")
    migration.wait_masters(expected, timeout=MDI_BOUND + 2, desc="vipd's app back")

    # 3c. keepalived (master of instance 1) crashes: vipd takes over within Master_Down_Interval.
    t = vipdlab.now_ns()
    ka_n2.crash()
    ka_n2.wait(5)
    took = migration.gains("n1", inst1.vips, t, MDI_BOUND, watchers["n1"])
    assert took <= TAKEOVER_BOUND, f"vipd took instance 1 after {took:.3f}s"
    # A crashed keepalived leaves its VIPs behind (ipfailover's pod would delete them); the
    # restarted keepalived clears them and preempts instance 1 back.
    migration.start("n2", "keepalived")
    migration.wait_masters(expected, timeout=MDI_BOUND + 3, desc="keepalived restarted on n2")

    # 3d. vipd (master of instance 2) crashes: keepalived takes over; the restarted vipd preempts.
    t = vipdlab.now_ns()
    vipd_n1.crash()
    vipd_n1.wait(5)
    took = migration.gains("n2", inst2.vips, t, MDI_BOUND, watchers["n2"])
    assert took <= TAKEOVER_BOUND, f"keepalived took instance 2 after {took:.3f}s"
    migration.start("n1", "vipd")
    migration.wait_masters(expected, timeout=MDI_BOUND + 3, desc="vipd restarted on n1")

    # 4. n2 migrates too: vipd everywhere, same masters.
    _, code, _ = stop_gracefully(migration.procs["n2"])
    assert code == 0, migration.procs["n2"].log()[-2000:]
    migration.wait_masters({inst1.name: "n1", inst2.name: "n1"}, timeout=3, desc="n2's keepalived stopped")
    migration.start("n2", "vipd")
    migration.wait_masters(expected, timeout=MDI_BOUND + 3, desc="vipd on both")
    time.sleep(2 * ADVERT)
    assert migration.masters() == {k: [v] for k, v in expected.items()}, "not stable"
    for node in ("n1", "n2"):
        assert migration.procs[node].alive(), migration.procs[node].log()[-2000:]

    migration.assert_keepalived_quiet()


@pytest.mark.parametrize("first,joiner", [
    pytest.param("keepalived", "vipd", id="vipd-joins"),
    pytest.param("vipd", "keepalived", id="keepalived-joins"),
])
def test_default_preempt_delay_with_state_master(vipd, first, joiner):
    """ipfailover's default `preempt_delay 300`. n2 starts first and, alone, owns both instances;
    then n1 starts. n1 is master-eligible for instance 2 (244 against n2's 13), so ipfailover gives
    it `state MASTER`, and keepalived ignores preempt_delay for such an instance: n1 takes
    instance 2 after one Master_Down_Interval. Whichever daemon runs on n1 must do the same;
    instance 1 stays on n2 (243 against n1's backup priority)."""
    env = {**BASE_ENV, "OPENSHIFT_HA_PREEMPTION": "preempt_delay 300"}
    with vipdlab.Lab(nodes=2) as lab:
        migration = Migration(lab, vipd.binary, env)
        inst1, inst2 = migration.instances["n1"]
        assert inst2.master_eligible and not inst1.master_eligible
        assert "state MASTER" in migration.ipf.keepalived_config(lab.node("n1").ipv4)
        migration.start("n2", first)
        migration.wait_masters({inst1.name: "n2", inst2.name: "n2"}, timeout=MDI_BOUND + 3,
                               desc=f"{first} alone on n2")
        watcher = lab.watch_addresses("n1")
        t = vipdlab.now_ns()
        migration.start("n1", joiner)
        migration.wait_masters(migration.expected_masters(), timeout=MDI_BOUND + 3,
                               desc=f"{joiner} on n1 takes instance 2 despite preempt_delay 300")
        took = migration.gains("n1", inst2.vips, t, 1, watcher)
        assert took <= TAKEOVER_BOUND, f"{joiner} on n1 took instance 2 {took:.3f}s after its start"
        migration.assert_keepalived_quiet()
