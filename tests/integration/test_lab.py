"""Self-tests of the namespace lab, proven with keepalived as the VRRP daemon."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemons  # noqa: E402
import vipdlab  # noqa: E402

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def require_root():
    # A failure, not a skip: a skipped integration suite would look green in ctest.
    assert os.geteuid() == 0, "integration tests need root (network namespaces)"


def lab_namespaces(prefix):
    return [n for n in vipdlab.list_netns() if n.startswith(prefix)]


def run_lab_child(body: str) -> subprocess.Popen:
    """A separate python process that builds a lab, prints its prefix and then runs `body`."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(HERE)!r})
        import vipdlab
        with vipdlab.Lab(nodes=2) as lab:
            lab.start_http("n1")
            print(lab.prefix, lab.processes[0].pid, flush=True)
        """) + textwrap.indent(textwrap.dedent(body), "    ")
    return subprocess.Popen([vipdlab.PYTHON, "-c", script], stdout=subprocess.PIPE, text=True)


def read_child_prefix(child: subprocess.Popen):
    line = child.stdout.readline().split()
    assert len(line) == 2, "child did not build its lab"
    return line[0], int(line[1])


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0


# --- lifecycle ---------------------------------------------------------------------------------


def test_prefix_is_unique_and_names_fit_ifnamsiz():
    labs = [vipdlab.Lab(nodes=99) for _ in range(20)]
    assert len({lab.prefix for lab in labs}) == 20
    for lab in labs:
        assert lab.prefix.startswith("vipdt")
        assert all(len(n.switch_port) <= 15 for n in lab.nodes)


def test_subnet_must_be_in_benchmark_range():
    with pytest.raises(ValueError):
        vipdlab.Lab(subnet="10.0.0.0/24")
    lab = vipdlab.Lab(nodes=2, subnet="198.19.4.0/24")
    assert [n.ipv4 for n in lab.nodes] == ["198.19.4.11", "198.19.4.12"]
    assert lab.client.ipv4 == "198.19.4.2"


def test_up_down_leaves_nothing_behind():
    with vipdlab.Lab(nodes=3) as lab:
        httpd = lab.start_http("n1")
        assert len(lab_namespaces(lab.prefix)) == 5
        registry = lab.state_dir / "runs" / f"{lab.prefix}.json"
        assert registry.exists()
    assert lab.leftovers() == []
    assert not registry.exists()
    assert not lab.workdir.exists()
    assert pid_gone(httpd.pid)


def test_teardown_on_exception():
    with pytest.raises(RuntimeError, match="boom"):
        with vipdlab.Lab(nodes=2) as lab:
            lab.start_http("n2")
            raise RuntimeError("boom")
    assert lab.leftovers() == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_teardown_on_signal(signum):
    child = run_lab_child("time.sleep(30)")
    try:
        prefix, httpd_pid = read_child_prefix(child)
        assert len(lab_namespaces(prefix)) == 4
        child.send_signal(signum)
        child.wait(timeout=20)
    finally:
        child.kill()
        child.wait(timeout=5)
    assert lab_namespaces(prefix) == []
    assert pid_gone(httpd_pid)


def test_cleanup_stale_removes_crashed_run_but_not_live_ones():
    with vipdlab.Lab(nodes=1) as live:
        child = run_lab_child("os.kill(os.getpid(), signal.SIGKILL)")
        prefix, httpd_pid = read_child_prefix(child)
        assert child.wait(timeout=20) == -signal.SIGKILL
        assert len(lab_namespaces(prefix)) == 4, "SIGKILL must leave the lab behind for this test"
        removed = vipdlab.cleanup_stale()
        assert prefix in removed
        assert live.prefix not in removed
        assert lab_namespaces(prefix) == []
        assert pid_gone(httpd_pid)
        assert len(lab_namespaces(live.prefix)) == 3


# --- connectivity and faults -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab3():
    with vipdlab.Lab(nodes=3, ipv6=True) as lab:
        yield lab


def test_nodes_reach_each_other_and_the_client(lab3):
    for src in ["cl", "n1", "n2", "n3"]:
        for dst in ["cl", "n1", "n2", "n3"]:
            if src != dst:
                assert lab3.ping(src, dst), f"{src} -> {dst}"
    assert lab3.ping("n1", lab3.node("n3").ipv6)
    assert lab3.ping("cl", lab3.node("n2").ipv6)


def test_bridge_passes_vrrp_multicast_and_block_multicast_stops_it(lab3):
    for family in (4, 6):
        assert lab3.multicast_reaches("n1", "n2", family=family)
        assert lab3.multicast_reaches("n3", "n1", family=family)
    lab3.block_multicast()
    try:
        for family in (4, 6):
            assert not lab3.multicast_reaches("n1", "n2", family=family, timeout=0.8)
        assert lab3.ping("n1", "n2"), "unicast must still flow"
    finally:
        lab3.unblock_multicast()
    assert lab3.multicast_reaches("n1", "n2")


@pytest.mark.parametrize("mode", ["drop", "carrier"])
def test_cut_link_isolates_one_node(lab3, mode):
    lab3.cut_link("n2", mode=mode)
    try:
        assert not lab3.ping("cl", "n2")
        assert not lab3.ping("n1", "n2")
        assert not lab3.multicast_reaches("n2", "n1", timeout=0.8)
        assert lab3.ping("n1", "n3") and lab3.ping("cl", "n1")
    finally:
        lab3.restore_link("n2")
    assert lab3.ping("cl", "n2")


def test_http_servers_answer_with_their_node_name(lab3):
    lab3.start_http_servers()
    for node in lab3.nodes:
        assert lab3.http_get(node.ipv4) == node.name
    assert lab3.http_get(lab3.host_address(200), timeout=0.3) is None


def test_address_watcher_timestamps_vip_changes(lab3):
    watcher = lab3.watch_addresses("n3")
    vip = lab3.host_address(201)
    before = vipdlab.now_ns()
    lab3.node("n3").ip("addr", "add", f"{vip}/32", "dev", "eth0")
    added = watcher.wait_event("add", vip, before, timeout=2)
    assert lab3.vip_holders(vip) == ["n3"]
    lab3.node("n3").ip("addr", "del", f"{vip}/32", "dev", "eth0")
    removed = watcher.wait_event("del", vip, added.ts_ns, timeout=2)
    assert before <= added.ts_ns <= removed.ts_ns
    assert lab3.vip_holders(vip) == []
    watcher.stop()


def test_advert_watcher_stamps_each_vrrp_packet_with_its_kernel_receive_time(lab3):
    watcher = lab3.watch_adverts("n2")
    before = vipdlab.now_ns()
    # _mcast-send sends 5 protocol-112 packets 50 ms apart whose payload starts "vipdlab-probe":
    # the watcher reads byte 1 ('i' = 105) as the VRID and byte 2 ('p' = 112) as the priority.
    lab3.node("n1").run([vipdlab.PYTHON, vipdlab.THIS_FILE, "_mcast-send", "--token", "w", "--count", "5"],
                        timeout=10)
    vipdlab.wait_for(lambda: len(watcher.events(before)) >= 5, timeout=2, desc="5 packets seen")
    after = vipdlab.now_ns()
    events = watcher.events(before)
    assert [(e.source, e.vrid, e.priority) for e in events] == [(lab3.node("n1").ipv4, 105, 112)] * 5
    stamps = [e.ts_ns for e in events]
    assert before < stamps[0] and stamps[-1] < after
    gaps_ms = [(b - a) / 1e6 for a, b in zip(stamps, stamps[1:])]
    assert all(45 < gap < 500 for gap in gaps_ms), gaps_ms
    newest = watcher.last_from(lab3.node("n1").ipv4, 105, before_ns=after)
    assert newest is not None and newest.ts_ns == stamps[-1]
    assert watcher.last_from(lab3.node("n1").ipv4, 105, before_ns=stamps[0]) is None
    assert watcher.last_from(lab3.node("n3").ipv4, 105, before_ns=after) is None
    watcher.stop()


# --- keepalived ----------------------------------------------------------------------------------


def test_keepalived_config_is_ipfailover_style():
    lab = vipdlab.Lab(nodes=1)
    node = lab.nodes[0]
    v2 = daemons.keepalived_config(daemons.VrrpSettings(vip="198.18.0.100", priority=150, vrid=11,
                                                        config_name="ipf_test", preemption="preempt_delay 300"), node)
    for expected in ["vrrp_instance ipf_test_VIP_1 {", "interface eth0", "virtual_router_id 11",
                     "priority 150", "preempt_delay 300", "auth_type PASS", "auth_pass ipf_test",
                     "198.18.0.100 dev eth0"]:
        assert expected in v2
    v3 = daemons.keepalived_config(daemons.VrrpSettings(
        vip="198.18.0.100", priority=100, version=3, advert_interval=0.1,
        unicast_src="198.18.0.11", unicast_peers=("198.18.0.12",)), node)
    assert "version 3" in v3 and "advert_int 0.1" in v3 and "auth_type" not in v3
    assert "unicast_src_ip 198.18.0.11" in v3 and "198.18.0.12" in v3
    with pytest.raises(ValueError):
        daemons.VrrpSettings(vip="198.18.0.100", priority=100, version=2, advert_interval=0.5)


@pytest.fixture
def lab2():
    with vipdlab.Lab(nodes=2) as lab:
        yield lab


def start_pair(lab, settings_for):
    keepalived = daemons.Keepalived()
    assert keepalived.available() is None, keepalived.available()
    return [keepalived.start(lab, name, settings_for(prio)) for name, prio in (("n1", 150), ("n2", 100))]


def test_keepalived_failover_on_crash(lab2):
    vip = lab2.host_address(100)
    make = lambda prio: daemons.VrrpSettings(vip=vip, priority=prio, vrid=51)
    master, backup = start_pair(lab2, make)
    # Both start as BACKUP; the higher priority wins once its Master_Down_Interval (~3.4 s) runs out.
    vipdlab.wait_for(lambda: lab2.vip_holders(vip) == ["n1"], timeout=10, desc="n1 holds the VIP")
    time.sleep(1.5)  # a few more adverts: the election must be stable, not a race
    assert lab2.vip_holders(vip) == ["n1"]
    assert master.master_transitions() == 1 and backup.master_transitions() == 0
    assert backup.backup_transitions() >= 1
    assert lab2.ping("cl", vip)

    lab2.start_http_servers()
    poller = lab2.start_poller(vip, interval=0.01, timeout=0.3)
    poller.wait_answer_from("n1", since_ns=0, timeout=3)

    crash_ns = vipdlab.now_ns()
    master.crash()
    lab2.cut_link("n1")
    limit = make(100).master_down_interval(100) + 1.5
    vipdlab.wait_for(lambda: "n2" in lab2.vip_holders(vip), timeout=limit, interval=0.02,
                     desc="backup takes the VIP")
    took = (vipdlab.now_ns() - crash_ns) / 1e9
    assert took >= 1.0, f"took over after {took:.3f}s: faster than possible with 1 s adverts"
    assert backup.master_transitions() == 1
    assert lab2.ping("cl", vip)
    poller.wait_answer_from("n2", since_ns=crash_ns, timeout=5)
    poller.stop()
    assert poller.nodes_seen() == ["n1", "n2"]
    outages = poller.outages(since_ns=crash_ns - 50_000_000)
    assert len(outages) == 1 and 1000 < outages[0].ms < limit * 1000, outages


def test_keepalived_graceful_stop_hands_over_within_skew_time(lab2):
    vip = lab2.host_address(101)
    make = lambda prio: daemons.VrrpSettings(vip=vip, priority=prio, vrid=52, version=3, advert_interval=0.1)
    master, backup = start_pair(lab2, make)
    vipdlab.wait_for(lambda: lab2.vip_holders(vip) == ["n1"], timeout=5, desc="n1 holds the VIP")
    watcher = lab2.watch_addresses("n2")
    stop_ns = vipdlab.now_ns()
    master.stop()
    took = watcher.wait_event("add", vip, stop_ns, timeout=3)
    master.wait(5)
    took_ms = (took.ts_ns - stop_ns) / 1e6
    # Priority-0 advert: the backup waits only Skew_Time (61 ms at 0.1 s), not Master_Down_Interval.
    assert took_ms < 250, took_ms
    assert lab2.vip_holders(vip) == ["n2"]


def test_keepalived_split_brain_when_multicast_blocked_and_unicast_fixes_it(lab2):
    vip = lab2.host_address(102)
    lab2.block_multicast()
    make = lambda prio: daemons.VrrpSettings(vip=vip, priority=prio, vrid=53, version=3, advert_interval=0.1)
    start_pair(lab2, make)
    vipdlab.wait_for(lambda: lab2.vip_holders(vip) == ["n1", "n2"], timeout=5, desc="two masters")

    vip_unicast = lab2.host_address(103)
    n1, n2 = lab2.node("n1"), lab2.node("n2")

    def unicast(prio):
        me, peer = (n1, n2) if prio == 150 else (n2, n1)
        return daemons.VrrpSettings(vip=vip_unicast, priority=prio, vrid=54, version=3, advert_interval=0.1,
                                    unicast_src=me.ipv4, unicast_peers=(peer.ipv4,))
    start_pair(lab2, unicast)
    vipdlab.wait_for(lambda: lab2.vip_holders(vip_unicast) == ["n1"], timeout=5, desc="one unicast master")
    time.sleep(0.5)
    assert lab2.vip_holders(vip_unicast) == ["n1"]
    assert lab2.vip_holders(vip) == ["n1", "n2"]
