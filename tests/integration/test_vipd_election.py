"""vipd elections on the namespace lab: priorities, address tie-break, preemption modes, unicast.

ctest: integration.vipd_election. VRRPv2 with 1 s adverts where v2 itself is the point, VRRPv3
with 0.1 s adverts elsewhere (same state machine, ten times faster); XDP receive path mostly, the
raw-socket path (--no-bpf) for the core cases.
"""

import time

import pytest

import vipdlab
from conftest import (FAILOVER_MARGIN_S, SPLIT_BRAIN_PROBE_S, V2_XDP, V3_RAW, V3_XDP, Cluster, flavor_params, record_timing,
                      took_over)


def wait_master(cluster: Cluster, node: str) -> None:
    cluster.wait_holders([node], timeout=cluster.election_timeout(), desc=f"{node} alone holds the VIP")
    cluster.wait_state(node, "MASTER", timeout=2)


@pytest.mark.parametrize("flavor", flavor_params(V2_XDP, V3_XDP, V3_RAW))
def test_highest_priority_wins(make_cluster, flavor):
    cluster = make_cluster(3, flavor)
    # Started lowest first, back to back: the winner must not depend on who came up first.
    for node, priority in (("n3", 50), ("n1", 100), ("n2", 200)):
        cluster.start(node, priority)
    wait_master(cluster, "n2")
    cluster.assert_stable("n2")
    for node in ("n1", "n3"):
        proc = cluster.procs[node]
        assert proc.backup_transitions() >= 1
        assert cluster.instance(node)["adverts_heard"] > 0
    cluster.prime_client("n2")


@pytest.mark.parametrize("flavor", flavor_params(V2_XDP, V3_XDP, V3_RAW))
def test_equal_priority_higher_address_wins(make_cluster, flavor):
    """Equal priorities only compete when two are master at once (a backup accepts an equal
    priority master, RFC 5798 6.4.2): behind a multicast block all three become master, find each
    other through the VIP (split-brain healing) and hold the election over unicast. n3 has the
    highest address (198.18.0.13) and must be the one that stays, also once the block is lifted."""
    cluster = make_cluster(3, flavor)
    cluster.lab.block_multicast()
    for node in ("n1", "n2", "n3"):
        cluster.start(node, 100)
    heal = cluster.election_timeout() + SPLIT_BRAIN_PROBE_S + 2
    cluster.wait_settled("n3", timeout=heal)
    cluster.assert_stable("n3", adverts=20)
    cluster.lab.unblock_multicast()
    cluster.assert_stable("n3", adverts=20)
    assert cluster.procs["n3"].master_transitions() == 1


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP))
def test_split_brain_heal_reannounces_the_vip(make_cluster, flavor):
    """The client learnt the VIP from n1, master alone behind a multicast block. n2 and n3 come
    up, cannot hear n1, and become master too; the split heals and n3 (highest address) must
    re-announce the VIP (keepalived: a master hearing a lower advert sends an advert and gratuitous
    ARPs), or the client keeps sending to n1, which just gave the VIP up."""
    cluster = make_cluster(3, flavor)
    cluster.lab.block_multicast()
    cluster.start("n1", 100)
    cluster.wait_holders(["n1"], timeout=cluster.election_timeout(), desc="n1 holds the VIP")
    cluster.prime_client("n1")
    for node in ("n2", "n3"):
        cluster.start(node, 100)
    heal = cluster.election_timeout() + SPLIT_BRAIN_PROBE_S + 2
    cluster.wait_settled("n3", timeout=heal)
    cluster.assert_client_reaches("n3", arp_timeout=2.0)


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP, V3_RAW))
def test_unicast_with_multicast_blocked(make_cluster, flavor):
    cluster = make_cluster(3, flavor)
    cluster.lab.block_multicast()
    assert not cluster.lab.multicast_reaches("n1", "n2", timeout=0.5)
    for node, priority in (("n1", 100), ("n2", 150), ("n3", 50)):
        cluster.start(node, priority, unicast=True)
    wait_master(cluster, "n2")
    cluster.assert_stable("n2")
    assert all(cluster.status(n)["transport"] == "unicast" for n in ("n1", "n2", "n3"))
    cluster.prime_client("n2")

    watchers = {n: cluster.lab.watch_addresses(n) for n in ("n1", "n3")}
    t0 = cluster.crash("n2")
    took = watchers["n1"].wait_event("add", cluster.vip, t0, timeout=5)
    took_s = (took.ts_ns - t0) / 1e9
    bound = cluster.master_down_interval(100) + FAILOVER_MARGIN_S
    record_timing(f"unicast {flavor.name} crash -> n1 holds VIP", took_s, bound)
    assert took_s <= bound, f"n1 took over after {took_s:.3f}s (bound {bound:.3f}s)"
    cluster.assert_client_reaches("n1")
    time.sleep(3 * flavor.interval)
    assert watchers["n3"].events(t0) == [], "n3 (lowest) must stay backup"
    assert cluster.state("n3") == "BACKUP"


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP, V3_RAW))
def test_preempt_returning_higher_priority_takes_over(make_cluster, flavor):
    cluster = make_cluster(2, flavor)
    cluster.start("n2", 100)
    wait_master(cluster, "n2")
    cluster.prime_client("n2")
    watcher = cluster.lab.watch_addresses("n1")
    t0 = vipdlab.now_ns()
    cluster.start("n1", 150, preemption="preempt")
    took = watcher.wait_event("add", cluster.vip, t0, timeout=5)
    took_s = (took.ts_ns - t0) / 1e9
    record_timing(f"preempt {flavor.name} start -> n1 holds VIP", took_s, 5)
    cluster.wait_holders(["n1"], timeout=2)
    cluster.assert_stable("n1")
    assert cluster.procs["n2"].backup_transitions() >= 2
    cluster.assert_client_reaches("n1")


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP, V3_RAW))
def test_nopreempt_returning_higher_priority_stays_backup(make_cluster, flavor):
    cluster = make_cluster(2, flavor)
    cluster.start("n2", 100)
    wait_master(cluster, "n2")
    cluster.start("n1", 150, preemption="nopreempt")
    cluster.wait_state("n1", "BACKUP", timeout=5)
    # Many Master_Down_Intervals of n1: it hears a lower priority master and must leave it be.
    time.sleep(10 * cluster.master_down_interval(150))
    cluster.assert_single_master("n2")
    assert cluster.procs["n1"].master_transitions() == 0
    # nopreempt does not mean never: once the master goes, n1 takes over.
    watcher = cluster.lab.watch_addresses("n1")
    t0 = cluster.crash("n2")
    took_over(cluster, watcher, t0, cluster.master_down_interval(150) + FAILOVER_MARGIN_S,
              f"nopreempt {flavor.name} crash -> n1 holds VIP")
    cluster.wait_holders(["n1", "n2"], timeout=2)  # SIGKILL leaves the VIP on n2 (stale)


@pytest.mark.parametrize("flavor", flavor_params(V3_XDP, V3_RAW))
def test_preempt_delay_takes_over_only_after_the_delay(make_cluster, flavor):
    delay = 2.0
    cluster = make_cluster(2, flavor)
    cluster.start("n2", 100)
    wait_master(cluster, "n2")
    cluster.prime_client("n2")
    watcher = cluster.lab.watch_addresses("n1")
    t0 = vipdlab.now_ns()
    proc = cluster.start("n1", 150, preemption=f"preempt_delay {delay:g}")
    cluster.wait_state("n1", "BACKUP", timeout=2)
    added = watcher.wait_event("add", cluster.vip, t0, timeout=delay + 5)
    took_s = (added.ts_ns - t0) / 1e9
    # The delay runs from the daemon's start (keepalived's meaning); after it, the lower adverts are
    # ignored and n1's Master_Down_Interval runs out. The process start is part of the upper bound.
    upper = delay + cluster.master_down_interval(150) + 0.5
    record_timing(f"preempt_delay 2 {flavor.name} start -> n1 holds VIP", took_s, upper)
    assert delay <= took_s <= upper, f"n1 took over {took_s:.3f}s after its start"
    assert proc.master_transitions() == 1
    cluster.wait_holders(["n1"], timeout=2)
    cluster.assert_stable("n1")
    cluster.assert_client_reaches("n1")


def test_v2_adverts_carry_the_configured_interval_and_auth(make_cluster):
    """v2, 1 s: the master's adverts arrive once a second (seen from the client). A backup with
    another password rejects them as auth mismatches and becomes master too; one with the same
    password follows the master. Guards the ipfailover default: PASS auth with the config name."""
    cluster = make_cluster(3, V2_XDP)
    adverts = cluster.lab.watch_adverts("cl")
    cluster.start("n1", 150)
    wait_master(cluster, "n1")
    cluster.start("n2", 100, extra=("--auth-pass", "other"))
    cluster.start("n3", 50)
    cluster.wait_holders(["n1", "n2"], timeout=cluster.master_down_interval(100) + 3,
                         desc="a backup with the wrong password does not accept the master")

    n1_ip = cluster.lab.node("n1").ipv4

    def n1_stamps() -> list[int]:
        return [e.ts_ns for e in adverts.events() if e.source == n1_ip and e.vrid == cluster.vrid]
    vipdlab.wait_for(lambda: len(n1_stamps()) >= 5, timeout=5, desc="5 adverts from n1")
    stamps = n1_stamps()
    gaps = [(b - a) / 1e9 for a, b in zip(stamps, stamps[1:])]
    assert all(0.9 <= gap <= 1.1 for gap in gaps), f"gaps between n1's adverts (s): {gaps}"

    rejected = cluster.status("n2")["adverts_rejected"]
    assert rejected.get("auth_mismatch", 0) > 0, rejected
    assert cluster.instance("n2")["adverts_heard"] == 0, cluster.instance("n2")
    n3 = cluster.instance("n3")
    assert n3["state"] == "BACKUP" and n3["master"] == n1_ip and n3["adverts_heard"] > 0, n3
